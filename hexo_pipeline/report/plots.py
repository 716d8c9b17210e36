"""The report's plots: matplotlib figures rendered to inline SVG (no network asset, no JavaScript needed).

matplotlib's object API only (`Figure`, no pyplot): no global state, safe in a Dagster step. Each SVG
gets its own id salt so several plots can sit in one HTML page without clashing ids. Colour scales
have a monotone lightness (readable printed in grey); dates always carry their year.
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


def _figure(width: float = 9.0, height: float = 3.2, constrained: bool = True) -> Figure:
    fig = Figure(figsize=(width, height), dpi=96)
    if constrained:
        fig.set_layout_engine("constrained")
    return fig


def group_colors(groups) -> dict[str, str]:
    return {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(sorted(groups))}


def _date_axis(ax, dates: pd.Series, max_labels: int = 8, weekly: bool = True) -> None:
    """Ticks on Mondays (weekly data) or whole days, labelled with the year."""
    d = pd.to_datetime(pd.Series(dates))
    span = (d.max() - d.min()).days + 1 if len(d) else 1
    if weekly:
        locator = mdates.WeekdayLocator(byweekday=mdates.MO, interval=max(1, -(-span // (7 * max_labels))))
    else:
        locator = mdates.DayLocator(interval=max(1, -(-span // max_labels)))
    ax.xaxis.set_major_locator(locator)
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
    COMPACT_CELLS cells the rendering is compact: no cell text, thin rows, every n-th label."""
    n_rows, n_cols = values.shape
    if not n_rows or not n_cols:
        fig = _figure(height=1.6)
        _no_data(fig.add_subplot(), "no data")
        return to_svg(fig)
    compact = n_rows * n_cols > COMPACT_CELLS
    row_h = 0.14 if compact else 0.3
    fig = _figure(width=12.0 if compact else min(12.0, max(9.0, 3.0 + 0.5 * n_cols)), height=1.9 + row_h * n_rows)
    ax = fig.add_subplot()
    data = values.to_numpy(dtype=float)
    rgba = SEQUENTIAL((np.clip(data, vmin, vmax) - vmin) / (vmax - vmin or 1))
    missing = np.isnan(data)
    inside = np.ones_like(missing) if enrolled is None else enrolled.reindex_like(values).fillna(False).to_numpy(bool)
    rgba[missing & inside] = (*to_rgb(NO_DATA), 1.0)
    rgba[~inside] = (1.0, 1.0, 1.0, 1.0)
    ax.imshow(rgba, aspect="auto", interpolation="nearest")
    row_step = max(1, -(-n_rows // 120))
    ax.set_yticks(range(0, n_rows, row_step), list(values.index)[::row_step], fontsize=6.5 if compact else 9)
    labels = [pd.Timestamp(d).strftime(DATE_FORMAT) for d in values.columns]
    col_step = max(1, -(-n_cols // 30))
    ax.set_xticks(range(0, n_cols, col_step), labels[::col_step], rotation=90, fontsize=8)
    ax.set_xlabel(column_label)
    ax.set_title(title, loc="left", fontsize=11)
    if notes is not None and not compact:
        texts = notes.reindex_like(values).to_numpy(dtype=object)
        for (i, j), text in np.ndenumerate(texts):
            if isinstance(text, str) and text:
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=_text_color(rgba[i, j]))
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(vmin, vmax), cmap=SEQUENTIAL)
    fig.colorbar(mappable, ax=ax, label=colorbar, fraction=0.03, pad=0.01)
    handles = [Patch(facecolor=NO_DATA, edgecolor="#777", label=missing_label)]
    if enrolled is not None:
        handles.append(Patch(facecolor="white", edgecolor="#777", label="not enrolled"))
    fig.legend(handles=handles, loc="outside lower left", ncols=2, fontsize=8, frameon=False)
    return to_svg(fig)


def group_weekly(group_weeks: pd.DataFrame, metric: str, *, title: str, ylabel: str) -> str:
    """Per group and week: the median of subject-week values, the IQR as a band (error bars for one
    week), and n beside each point. A one-subject group is a dashed line without a band."""
    frame = group_weeks[group_weeks["metric"] == metric]
    frame = frame[frame["subjects_n"] > 0]
    fig = _figure(width=6.0, height=3.1)
    ax = fig.add_subplot()
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


def small_multiples(days: pd.DataFrame, metric: str, *, title: str, ylabel: str) -> str:
    """One small panel per subject of a daily metric, all on the same scales: filled markers on valid
    days, hollow markers on partial days (data but not a valid day).

    Drawn as cells of a single Axes (one draw however many subjects: a 100-subject study stays fast);
    the shared y range is printed on each row's first panel."""
    subjects = sorted(days["subject_label"].unique())
    frame = days[days[metric].notna()]
    if not len(frame):
        fig = _figure(height=1.6)
        _no_data(fig.add_subplot(), f"no {ylabel} data")
        return to_svg(fig)
    n = len(subjects)
    cols = 6 if n <= 36 else 10
    rows = -(-n // cols)
    d0, d1 = pd.Timestamp(days["local_date"].min()), pd.Timestamp(days["local_date"].max())
    span = max((d1 - d0).days, 1)
    lo, hi = np.nanpercentile(frame[metric].astype(float), [1, 99])
    lo, hi = (lo - 1, hi + 1) if hi - lo < 1e-9 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    gap_x, gap_y, top = 0.08, 0.34, 0.3  # cell spacing and label room, in cell units
    fig = _figure(width=12.0, height=0.9 + (0.85 if cols == 6 else 0.7) * rows * (1 + gap_y))
    ax = fig.add_subplot()
    colors = group_colors(days["group_name"].dropna().unique())
    groups = days.drop_duplicates("subject_label").set_index("subject_label")["group_name"]
    by_subject = dict(tuple(frame.groupby("subject_label")))
    lines: dict[str, list[np.ndarray]] = {}
    filled: dict[str, list[np.ndarray]] = {}
    hollow: dict[str, list[np.ndarray]] = {}
    frames = []
    for k, subject in enumerate(subjects):
        cx, cy = (k % cols) * (1 + gap_x), -(k // cols) * (1 + gap_y)
        frames.append([[cx, cy], [cx + 1, cy], [cx + 1, cy + 1], [cx, cy + 1], [cx, cy], [np.nan, np.nan]])
        group = groups.get(subject)
        ax.text(cx, cy + 1.03, f"{subject} ({group})", fontsize=6.5, va="bottom", ha="left")
        if k % cols == 0:
            ax.text(cx - 0.02, cy + 1, f"{hi:.4g}", fontsize=6, ha="right", va="top", color="#555")
            ax.text(cx - 0.02, cy, f"{lo:.4g}", fontsize=6, ha="right", va="bottom", color="#555")
        sf = by_subject.get(subject)
        if sf is None:
            ax.text(cx + 0.5, cy + 0.5, "no data", fontsize=7, ha="center", va="center", color="#555")
            continue
        x = cx + (pd.to_datetime(sf["local_date"]) - d0).dt.days.to_numpy() / span
        y = cy + np.clip((sf[metric].to_numpy(float) - lo) / (hi - lo), 0, 1)
        points = np.column_stack([x, y])
        color = colors.get(group, "#333")
        lines.setdefault(color, []).append(np.vstack([points, [np.nan, np.nan]]))
        valid = sf["is_valid_day"].to_numpy(bool)
        filled.setdefault(color, []).append(points[valid])
        hollow.setdefault(color, []).append(points[~valid])
    box = np.vstack([np.array(f, dtype=float) for f in frames])
    ax.plot(box[:, 0], box[:, 1], "-", color="#999", linewidth=0.6)
    # The data as one raster layer inside the SVG: thousands of markers stay a light page.
    for color, parts in lines.items():
        xy = np.vstack(parts)
        ax.plot(xy[:, 0], xy[:, 1], "-", color=color, linewidth=0.7, rasterized=True)
        f, h = np.vstack(filled[color]), np.vstack(hollow[color])
        ax.plot(f[:, 0], f[:, 1], "o", color=color, markersize=1.8, linestyle="none", rasterized=True)
        ax.plot(
            h[:, 0],
            h[:, 1],
            "o",
            markerfacecolor="white",
            markeredgecolor=color,
            markersize=2.6,
            markeredgewidth=0.7,
            linestyle="none",
            rasterized=True,
        )
    ax.set_xlim(-0.25, cols * (1 + gap_x))
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
    ax = fig.add_subplot()
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
