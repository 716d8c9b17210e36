"""The report's plots: matplotlib figures rendered to inline SVG (no network asset, no JavaScript needed).

matplotlib's object API only (`Figure`, no pyplot): no global state, safe in a Dagster step. Each SVG
gets its own id salt so several plots can sit in one HTML page without clashing ids. Colour scales
have a monotone lightness (readable printed in grey); dates always carry their year.

Study scale (500 subjects x 730 days): axes sit at fixed margins in inches (no layout engine, whose
extra draw pass before saving doubled the cost of every figure), heatmaps are one image at one pixel per
cell (embedded unscaled, drawn pixelated by the browser), and dense per-subject data is one rasterised
layer per colour.
"""

from __future__ import annotations

import io
import itertools
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

_counter = itertools.count()
GROUP_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
GROUP_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Pale yellow to dark blue: lightness falls monotonically, so the scale survives grey printing.
SEQUENTIAL = LinearSegmentedColormap.from_list("hexo_seq", ["#ffffd9", "#7fcdbb", "#1d91c0", "#0c2c84"])
NO_DATA = "#bdbdbd"  # an enrolled day (or week) without the metric
DATE_FORMAT = "%Y-%m-%d"
# Above this many cells a heatmap is compact: no numbers in cells, thinner rows, fewer labels.
COMPACT_CELLS = 700


def to_svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog), ids unique in the page."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"hexo-{next(_counter)}"}):
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _figure(width: float = 9.0, height: float = 3.2) -> Figure:
    return Figure(figsize=(width, height), dpi=96)


def _axes(fig: Figure, *, left: float, bottom: float, right: float = 0.15, top: float = 0.35):
    """Axes with fixed margins, in inches (room for tick labels, axis labels and the title)."""
    w, h = fig.get_size_inches()
    return fig.add_axes((left / w, bottom / h, 1 - (left + right) / w, 1 - (bottom + top) / h))


def _plot_axes(fig: Figure):
    """The axes of a 6 x 3.1 in line plot: y tick labels and label on the left, dates at 30 degrees below."""
    return _axes(fig, left=0.8, bottom=1.0)


def _no_data_figure(text: str = "no data", title: str | None = None) -> str:
    fig = _figure(height=1.6)
    ax = _axes(fig, left=0.1, bottom=0.1, right=0.1, top=0.35 if title else 0.1)
    _no_data(ax, text)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    return to_svg(fig)


def group_colors(groups) -> dict[str, str]:
    return {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(sorted(groups))}


def _date_axis(ax, dates: pd.Series, max_labels: int = 8, weekly: bool = True) -> None:
    """Ticks on Mondays (weekly data) or whole days, labelled with the year."""
    d = pd.to_datetime(pd.Series(dates))
    span = (d.max() - d.min()).days + 1 if len(d) else 1
    # Fixed tick dates: matplotlib's rrule-based weekday locator walks every day between ticks in
    # Python (about 1.5 s per plot over two years at a 14-week interval).
    if weekly:
        first = d.min() - pd.Timedelta(days=d.min().weekday())
        step = f"{max(1, -(-span // (7 * max_labels)))}W-MON"
    else:
        first, step = d.min(), f"{max(1, -(-span // max_labels))}D"
    ticks = pd.date_range(first, d.max() + pd.Timedelta(days=1), freq=step) if len(d) else []
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(mdates.date2num(ticks)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter(DATE_FORMAT))
    pad = pd.Timedelta(days=1)
    ax.set_xlim(d.min() - pad, d.max() + pad)
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def _text_color(rgb) -> str:
    r, g, b = rgb[:3]
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "#fff"


def is_compact(n_rows: int, n_cols: int) -> bool:
    """Past COMPACT_CELLS cells a heatmap has no text in its cells (callers need not compute it)."""
    return n_rows * n_cols > COMPACT_CELLS


def heatmap(
    values: pd.DataFrame,
    *,
    title: str,
    vmin: float,
    vmax: float,
    colorbar: str,
    notes: pd.DataFrame | None = None,
    enrolled: pd.DataFrame | None = None,
    column_label: str = "local day",
    missing_label: str = "enrolled, no data",
) -> str:
    """Rows x columns heatmap (columns: dates). NaN in an enrolled cell is grey; outside enrolment white.

    Small tables carry the `notes` text in each cell (black or white by the cell's lightness); past
    COMPACT_CELLS cells the rendering is compact: no cell text, thin rows (every row still labelled),
    every n-th date. The cells are one image of one pixel per cell, which the SVG embeds unscaled."""
    n_rows, n_cols = values.shape
    if not n_rows or not n_cols:
        return _no_data_figure("no data", title)
    compact = is_compact(n_rows, n_cols)
    row_h = 0.14 if compact else 0.3
    label_size = 6.5 if compact else 9
    labels_y = [str(v) for v in values.index]
    left = 0.2 + max(len(t) for t in labels_y) * label_size * 0.6 / 72
    bottom, top = 1.45, 0.4  # dates (vertical) + axis label + legend; title
    width = 12.0 if compact else min(12.0, max(9.0, left + 1.5 + 0.5 * n_cols))
    fig = _figure(width=width, height=bottom + top + row_h * n_rows)
    ax = _axes(fig, left=left, bottom=bottom, right=1.05, top=top)
    data = values.to_numpy(dtype=float)
    rgba = SEQUENTIAL((np.clip(data, vmin, vmax) - vmin) / (vmax - vmin or 1), bytes=True)
    missing = np.isnan(data)
    inside = np.ones_like(missing) if enrolled is None else enrolled.reindex_like(values).fillna(False).to_numpy(bool)
    rgba[missing & inside] = (*(round(255 * c) for c in to_rgb(NO_DATA)), 255)
    rgba[~inside] = (255, 255, 255, 255)
    ax.imshow(rgba, aspect="auto", interpolation="none")
    # Row labels as plain texts beside the rows: a matplotlib tick per row costs several times more (500 rows).
    ax.set_yticks([])
    beside = matplotlib.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    for i, label in enumerate(labels_y):
        ax.text(-0.004, i, label, transform=beside, ha="right", va="center", fontsize=label_size)
    labels = [pd.Timestamp(d).strftime(DATE_FORMAT) for d in values.columns]
    col_step = max(1, -(-n_cols // 30))
    ax.set_xticks(range(0, n_cols, col_step), labels[::col_step], rotation=90, fontsize=8)
    ax.set_xlabel(column_label)
    ax.set_title(title, loc="left", fontsize=11)
    if notes is not None and not compact:
        texts = notes.reindex_like(values).to_numpy(dtype=object)
        for (i, j), text in np.ndenumerate(texts):
            if isinstance(text, str) and text:
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=_text_color(rgba[i, j] / 255))
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(vmin, vmax), cmap=SEQUENTIAL)
    w, h = fig.get_size_inches()
    bar_h = min(h - bottom - top, 4.0)
    cax = fig.add_axes(((w - 0.9) / w, (h - top - bar_h) / h, 0.12 / w, bar_h / h))
    fig.colorbar(mappable, cax=cax, label=colorbar)
    handles = [Patch(facecolor=NO_DATA, edgecolor="#777", label=missing_label)]
    if enrolled is not None:
        handles.append(Patch(facecolor="white", edgecolor="#777", label="not enrolled"))
    fig.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0.1 / w, 0.02 / h), ncols=2, fontsize=8, frameon=False
    )
    return to_svg(fig)


def group_weekly(group_weeks: pd.DataFrame, metric: str, *, title: str, ylabel: str) -> str:
    """Per group and week: the median of subject-week values, the IQR as a band (error bars for one
    week), and n beside each point. A one-subject group is a dashed line without a band."""
    frame = group_weeks[group_weeks["metric"] == metric]
    frame = frame[frame["subjects_n"] > 0]
    fig = _figure(width=6.0, height=3.1)
    ax = _plot_axes(fig)
    if not len(frame):
        _no_data(ax)
        ax.set_title(title, loc="left", fontsize=11)
        return to_svg(fig)
    colors = group_colors(group_weeks["group_name"].unique())
    annotate = frame["week_start"].nunique() <= 16
    for k, (g, gf) in enumerate(frame.groupby("group_name", sort=True)):
        gf = gf.sort_values("week_start")
        x = pd.to_datetime(gf["week_start"]) + pd.Timedelta(hours=6 * k)  # small dodge: bands stay apart
        single = bool((gf["subjects_n"] <= 1).all())
        n_text = (
            f"n={int(gf['subjects_n'].min())}"
            if gf["subjects_n"].nunique() == 1
            else f"n={int(gf['subjects_n'].min())}-{int(gf['subjects_n'].max())}"
        )
        ax.plot(
            x,
            gf["median_value"],
            "--" if single else "-",
            marker=GROUP_MARKERS[k % 8],
            markersize=4,
            color=colors[g],
            label=f"{g} ({n_text})",
        )
        if not single:
            if len(gf) > 1:
                ax.fill_between(x, gf["q1_value"], gf["q3_value"], color=colors[g], alpha=0.18, linewidth=0)
            ax.errorbar(
                x,
                gf["median_value"],
                yerr=[gf["median_value"] - gf["q1_value"], gf["q3_value"] - gf["median_value"]],
                fmt="none",
                ecolor=colors[g],
                alpha=0.6,
                capsize=2,
            )
        if "is_partial_week" in gf:
            partial = gf["is_partial_week"].fillna(False).astype(bool).to_numpy()
            if partial.any():  # hollow: a partial week (a subject in the study fewer than 7 days)
                ax.plot(
                    x[partial],
                    gf["median_value"][partial],
                    linestyle="none",
                    marker=GROUP_MARKERS[k % 8],
                    markersize=5,
                    markerfacecolor="white",
                    markeredgecolor=colors[g],
                )
        if annotate:
            for xi, yi, n in zip(x, gf["median_value"], gf["subjects_n"]):
                ax.annotate(
                    f"{int(n)}", (xi, yi), textcoords="offset points", xytext=(3, 4), fontsize=7, color=colors[g]
                )
    _date_axis(ax, frame["week_start"])
    ax.legend(fontsize=8, framealpha=0.8, loc="best")
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("week starting (Monday)")
    ax.grid(alpha=0.3)
    return to_svg(fig)


def small_multiples(
    days: pd.DataFrame, metric: str, *, title: str, ylabel: str, subjects: list[str] | None = None
) -> str:
    """One small panel per subject of a daily metric, all on the same scales: filled markers on valid
    days, hollow markers on partial days (data but not a valid day). `subjects`: the panels, in order
    (default: every subject of `days`, by label).

    Drawn as cells of a single Axes (one draw however many subjects: a 100-subject study stays fast);
    the shared y range is printed on each row's first panel."""
    if subjects is None:
        subjects = sorted(days["subject_label"].unique())
    else:
        days = days[days["subject_label"].isin(subjects)]
    frame = days[days[metric].notna()]
    if not len(frame):
        return _no_data_figure(f"no {ylabel} data")
    n = len(subjects)
    cols = 6 if n <= 36 else 10
    rows = -(-n // cols)
    d0, d1 = pd.Timestamp(days["local_date"].min()), pd.Timestamp(days["local_date"].max())
    span = max((d1 - d0).days, 1)
    lo, hi = np.nanpercentile(frame[metric].astype(float), [1, 99])
    lo, hi = (lo - 1, hi + 1) if hi - lo < 1e-9 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    gap_x, gap_y, top = 0.08, 0.34, 0.3  # cell spacing and label room, in cell units
    height = 0.9 + (0.85 if cols == 6 else 0.7) * rows * (1 + gap_y)
    fig = _figure(width=12.0, height=height)
    ax = _axes(fig, left=0.1, bottom=0.05, right=0.1, top=0.3)
    colors = group_colors(days["group_name"].dropna().unique())
    groups = days.drop_duplicates("subject_label").set_index("subject_label")["group_name"]
    # Every point at once: the panel k of its subject, its place in the panel, its group's colour.
    slot = {subject: k for k, subject in enumerate(subjects)}
    k = frame["subject_label"].map(slot).to_numpy(int)
    days_in = (pd.to_datetime(frame["local_date"]) - d0).dt.days.to_numpy()
    order = np.lexsort((days_in, k))  # per subject, by day: each subject's line is one run
    k, days_in = k[order], days_in[order]
    x = (k % cols) * (1 + gap_x) + days_in / span
    y = -(k // cols) * (1 + gap_y) + np.clip((frame[metric].to_numpy(float)[order] - lo) / (hi - lo), 0, 1)
    valid = frame["is_valid_day"].to_numpy(bool)[order]
    point_color = np.array([colors.get(groups.get(subject), "#333") for subject in subjects], dtype=object)[k]
    for k_panel, subject in enumerate(subjects):
        cx, cy = (k_panel % cols) * (1 + gap_x), -(k_panel // cols) * (1 + gap_y)
        ax.text(cx, cy + 1.03, f"{subject} ({groups.get(subject)})", fontsize=6.5, va="bottom", ha="left")
        if k_panel % cols == 0:
            ax.text(cx - 0.02, cy + 1, f"{hi:.4g}", fontsize=6, ha="right", va="top", color="#555")
            ax.text(cx - 0.02, cy, f"{lo:.4g}", fontsize=6, ha="right", va="bottom", color="#555")
    for k_panel in sorted(set(range(len(subjects))) - set(k.tolist())):
        cx, cy = (k_panel % cols) * (1 + gap_x), -(k_panel // cols) * (1 + gap_y)
        ax.text(cx + 0.5, cy + 0.5, "no data", fontsize=7, ha="center", va="center", color="#555")
    panels = np.arange(len(subjects))
    cx, cy = (panels % cols) * (1 + gap_x), -(panels // cols) * (1 + gap_y)
    box_x = np.column_stack([cx, cx + 1, cx + 1, cx, cx, np.full(len(panels), np.nan)]).ravel()
    box_y = np.column_stack([cy, cy, cy + 1, cy + 1, cy, np.full(len(panels), np.nan)]).ravel()
    ax.plot(box_x, box_y, "-", color="#999", linewidth=0.6)
    # The data as one raster layer per colour inside the SVG: thousands of markers stay a light page.
    for color in dict.fromkeys(point_color):
        mine = point_color == color
        cx, cy, ck = x[mine], y[mine], k[mine]
        breaks = np.flatnonzero(np.diff(ck)) + 1  # a NaN between two subjects: no line joins panels
        ax.plot(
            np.insert(cx, breaks, np.nan),
            np.insert(cy, breaks, np.nan),
            "-",
            color=color,
            linewidth=0.7,
            rasterized=True,
        )
        f, h = mine & valid, mine & ~valid
        ax.plot(x[f], y[f], "o", color=color, markersize=1.8, linestyle="none", rasterized=True)
        ax.plot(
            x[h],
            y[h],
            "o",
            markerfacecolor="white",
            markeredgecolor=color,
            markersize=2.6,
            markeredgewidth=0.7,
            linestyle="none",
            rasterized=True,
        )
    ax.set_xlim(-0.4, cols * (1 + gap_x))
    ax.set_ylim(-(rows - 1) * (1 + gap_y) - 0.05, 1 + top)
    ax.axis("off")
    ax.set_title(
        f"{title}: each panel {d0:%Y-%m-%d} to {d1:%Y-%m-%d}, y from {lo:.4g} to {hi:.4g} {ylabel} "
        "(shared); hollow markers: partial days",
        loc="left",
        fontsize=9.5,
    )
    return to_svg(fig)


def comparison(comp: pd.DataFrame, metric: str, *, title: str, ylabel: str) -> str:
    """Per week, each group's mean minus the reference group's with its 95 % interval (none when n < 2)."""
    frame = comp[comp["metric"] == metric].dropna(subset=["mean_difference"])
    fig = _figure(width=6.0, height=3.1)
    ax = _plot_axes(fig)
    if not len(frame):
        _no_data(ax, "no comparison (one group, or no data)")
        ax.set_title(title, loc="left", fontsize=11)
        return to_svg(fig)
    colors = group_colors(list(frame["group_name"].unique()) + list(frame["reference_group"].unique()))
    for k, (g, gf) in enumerate(frame.groupby("group_name", sort=True)):
        gf = gf.sort_values("week_start")
        x = pd.to_datetime(gf["week_start"]) + pd.Timedelta(hours=8 * k)
        low = (gf["mean_difference"] - gf["ci95_low"]).fillna(0)
        high = (gf["ci95_high"] - gf["mean_difference"]).fillna(0)
        ax.errorbar(
            x,
            gf["mean_difference"],
            yerr=[low, high],
            fmt=GROUP_MARKERS[k % 8] + "-",
            markersize=4,
            capsize=3,
            color=colors[g],
            label=f"{g} - {gf['reference_group'].iloc[0]}",
        )
    ax.axhline(0, color="#333", linewidth=0.8)
    _date_axis(ax, frame["week_start"])
    ax.legend(fontsize=8, framealpha=0.8, loc="best")
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(f"difference ({ylabel})")
    ax.set_xlabel("week starting (Monday)")
    ax.grid(alpha=0.3)
    return to_svg(fig)


def strip_svg_whitespace(svg: str) -> str:
    return re.sub(r">\s+<", "><", svg)
