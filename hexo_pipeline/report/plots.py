"""The report's plots: matplotlib figures rendered to inline SVG (no network asset, no JavaScript needed).

matplotlib's object API only (`Figure`, no pyplot): no global state, safe in a Dagster step. Each SVG
gets its own id salt so several plots can sit in one HTML page without clashing ids.
"""

from __future__ import annotations

import io
import itertools
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

_counter = itertools.count()
GROUP_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
ADHERENCE_CMAP = LinearSegmentedColormap.from_list("adherence", ["#d73027", "#fee08b", "#1a9850"])
YIELD_CMAP = LinearSegmentedColormap.from_list("yield", ["#f7fbff", "#6baed6", "#08306b"])
NO_DATA = "#d9d9d9"


def to_svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog), ids unique in the page."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"hexo-{next(_counter)}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _figure(width: float = 9.0, height: float = 3.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_layout_engine("constrained")
    return fig


def _group_color(groups: list[str]) -> dict[str, str]:
    return {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(groups)}


def _date_axis(ax, days: pd.Series) -> None:
    """Ticks on whole local days (at most ~12 labels), never on hours."""
    span = (pd.to_datetime(days).max() - pd.to_datetime(days).min()).days + 1 if len(days) else 1
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, -(-span // 12))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    pad = pd.Timedelta(hours=12)
    ax.set_xlim(pd.to_datetime(days).min() - pad, pd.to_datetime(days).max() + pad)


def heatmap(days: pd.DataFrame, *, value: str, title: str, cmap, vmin: float, vmax: float, colorbar: str,
            annotate: str | None = None) -> str:
    """Subject x local-day heatmap of `value` (NaN cells grey: nothing to show that day)."""
    table = days.pivot_table(index="subject_label", columns="local_date", values=value, aggfunc="first",
                             dropna=False)
    notes = (days.pivot_table(index="subject_label", columns="local_date", values=annotate, aggfunc="first",
                              dropna=False).reindex_like(table) if annotate else None)
    n_rows, n_cols = table.shape
    fig = _figure(width=min(16.0, max(6.0, 2.8 + 0.42 * n_cols)), height=1.4 + 0.32 * max(n_rows, 1))
    ax = fig.add_subplot()
    data = np.ma.masked_invalid(table.to_numpy(dtype=float))
    cm = (matplotlib.colormaps.get_cmap(cmap) if isinstance(cmap, str) else cmap).with_extremes(bad=NO_DATA)
    image = ax.imshow(data, aspect="auto", cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_yticks(range(n_rows), table.index)
    labels = [pd.Timestamp(d).strftime("%m-%d") for d in table.columns]
    step = max(1, n_cols // 20)
    ax.set_xticks(range(0, n_cols, step), labels[::step], rotation=90)
    ax.set_xlabel("local day")
    ax.set_title(title, loc="left", fontsize=11)
    if notes is not None and n_cols * n_rows <= 1500:
        for (i, j), text in np.ndenumerate(notes.to_numpy(dtype=object)):
            if isinstance(text, str) and text:
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="#222")
    fig.colorbar(image, ax=ax, label=colorbar, fraction=0.025, pad=0.01)
    return to_svg(fig)


def group_trend(group_days: pd.DataFrame, metrics: list[tuple[str, str]], *, title: str, ylabel: str) -> str:
    """One line per group and metric over local days (metrics: (column, label) pairs)."""
    fig = _figure()
    ax = fig.add_subplot()
    groups = sorted(group_days["group_name"].dropna().unique())
    colors = _group_color(groups)
    styles = ("-", "--", ":")
    drawn = 0
    for g in groups:
        frame = group_days[group_days["group_name"] == g].sort_values("local_date")
        for k, (column, label) in enumerate(metrics):
            series = frame[column].astype(float)
            if series.notna().any():
                ax.plot(pd.to_datetime(frame["local_date"]), series, styles[k % 3], marker="o", markersize=3,
                        color=colors[g], label=f"{g} - {label}" if len(metrics) > 1 else g)
                drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center", color="#777")
    else:
        ax.legend(fontsize=8, loc="best", frameon=False)
        _date_axis(ax, group_days["local_date"])
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return to_svg(fig)


def group_bars(groups: pd.DataFrame, columns: list[tuple[str, str]], *, title: str, ylabel: str) -> str:
    """Grouped bars: one cluster per group, one bar per column."""
    fig = _figure(height=3.0)
    ax = fig.add_subplot()
    names = list(groups["group_name"]) if len(groups) else []
    x = np.arange(len(names))
    width = 0.8 / max(len(columns), 1)
    palette = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
    for k, (column, label) in enumerate(columns):
        values = groups[column].astype(float).to_numpy() if len(groups) else np.zeros(0)
        bars = ax.bar(x + (k - (len(columns) - 1) / 2) * width, np.nan_to_num(values), width, label=label,
                      color=palette[k % 4])
        ax.bar_label(bars, labels=["n/a" if np.isnan(v) else f"{v:.1f}" for v in values], fontsize=8)
    ax.set_xticks(x, names)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11)
    if len(columns) > 1:
        ax.legend(fontsize=8, frameon=False)
    if not names:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center", color="#777")
    ax.grid(axis="y", alpha=0.3)
    return to_svg(fig)


def stacked_shares(frame: pd.DataFrame, parts: list[str], *, title: str) -> str:
    """Horizontal 100 % bars per group (e.g. time in each sleep position)."""
    fig = _figure(height=1.4 + 0.45 * max(len(frame), 1))
    ax = fig.add_subplot()
    values = frame[parts].astype(float).fillna(0.0) if len(frame) else pd.DataFrame(columns=parts)
    totals = values.sum(axis=1).replace(0, np.nan)
    shares = values.div(totals, axis=0).fillna(0.0) * 100
    left = np.zeros(len(frame))
    palette = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")
    for k, part in enumerate(parts):
        ax.barh(list(frame["group_name"]), shares[part], left=left, label=part, color=palette[k % 5])
        left += shares[part].to_numpy()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of sleep time with a position")
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(fontsize=8, ncols=len(parts), loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False)
    if not len(frame) or not np.nansum(totals):
        ax.text(50, 0, "no sleep positions yet", ha="center", va="center", color="#777")
    return to_svg(fig)


def strip_svg_whitespace(svg: str) -> str:
    return re.sub(r">\s+<", "><", svg)
