"""The study report: one self-contained HTML page per study, from the published marts.

`reports/<study>/index.html` opens offline: plots are inline SVG, styles inline, no network asset. A
few lines of inline JavaScript only check, once the page is laid out, that every plot has a size
(`data-plots-rendered` on <html>), which the headless-browser test reads.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd

from . import plots
from .data import StudyData, connect, load_study, studies

TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("hexo_pipeline.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def render_study_reports(duckdb_path: str | os.PathLike[str], reports_dir: str | os.PathLike[str]) -> list[Path]:
    """Render reports/<study>/index.html for every study in the published warehouse."""
    con = connect(duckdb_path)
    try:
        return [render_study_report(load_study(con, study), Path(reports_dir)) for study in studies(con)]
    finally:
        con.close()


def render_study_report(data: StudyData, reports_dir: Path) -> Path:
    folder = reports_dir / (_SAFE_NAME.sub("_", data.study) or "study")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "index.html"
    html = render_html(data)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index.", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)  # a browser reloading the page never reads half of it
    return target


def render_html(data: StudyData) -> str:
    t0 = time.monotonic()
    days = data.days.copy()
    days["subject_label"] = days["subject_code"].fillna(days["username"]) + " (" + days["group_name"].fillna("?") + ")"
    days["adherence"] = days["events_done"] / days["events_scheduled"].where(days["events_scheduled"] > 0)
    days["adherence_note"] = [f"{d}/{s}" if s else "" for d, s in zip(days["events_done"], days["events_scheduled"])]
    days["wear_note"] = [f"{w / 3600:.0f}" if w else "" for w in days["worn_s"]]
    gd = data.group_days
    figures = [
        ("Adherence", "Study events done / scheduled, per subject and local day (grey: nothing scheduled).",
         plots.heatmap(days, value="adherence", title="Adherence (events done / scheduled)",
                       cmap=plots.ADHERENCE_CMAP, vmin=0, vmax=1, colorbar="done / scheduled",
                       annotate="adherence_note")),
        ("Data yield", "Share of the local day's minutes with a valid heart-rate sample (RAPIDS ratio of valid "
                       "minutes); the numbers are worn hours.",
         plots.heatmap(days, value="ratio_valid_minutes", title="Data yield (ratio of valid minutes)",
                       cmap=plots.YIELD_CMAP, vmin=0, vmax=1, colorbar="valid minutes / day", annotate="wear_note")),
        ("Wear time per group", "Mean worn hours per enrolled subject (a day without data counts 0).",
         plots.group_trend(gd, [("wear_hours_mean", "wear")], title="Wear time per group", ylabel="hours / day")),
        ("Completeness per group", "Share of subject-days that are valid days, and mean adherence.",
         plots.group_bars(data.groups, [("completeness_pct", "valid days %"), ("adherence_pct", "adherence %")],
                          title="Completeness and adherence per group", ylabel="%")),
        ("Heart rate", "Daily mean of clean 1 Hz heart rate and resting estimate, averaged over the group.",
         plots.group_trend(gd, [("hr_mean_bpm", "mean"), ("resting_hr_bpm", "resting")],
                           title="Heart rate per group", ylabel="bpm")),
        ("Heart rate variability", "Daily RMSSD and SDNN over reliable RR intervals, averaged over the group.",
         plots.group_trend(gd, [("rmssd_ms", "RMSSD"), ("sdnn_ms", "SDNN")], title="HRV per group", ylabel="ms")),
        ("Breathing", "Daily mean of clean breathing rate, averaged over the group.",
         plots.group_trend(gd, [("br_mean_rpm", "breathing rate")], title="Breathing rate per group",
                           ylabel="breaths / min")),
        ("Activity", "Daily steps (subjects with data) per group.",
         plots.group_trend(gd, [("steps_mean", "steps")], title="Steps per group", ylabel="steps / day")),
        ("Sleep", "Hours of sleep ranges per night, averaged over subjects who slept in the garment.",
         plots.group_trend(gd, [("sleep_hours_mean", "sleep")], title="Sleep per group", ylabel="hours")),
        ("Sleep positions", "Time in each sleep position during sleep ranges.",
         plots.stacked_shares(data.positions, ["back", "belly", "left", "right", "standing"],
                              title="Sleep positions per group")),
    ]
    overview = _overview(data)
    html = TEMPLATE.get_template("study_report.html.j2").render(
        study=data.study,
        study_name=data.study_name,
        built_at=data.built_at,
        rendered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        overview=overview,
        groups=_records(data.groups),
        subjects=_records(data.adherence),
        figures=[{"id": f"plot-{i}", "title": t, "caption": c, "svg": svg} for i, (t, c, svg) in enumerate(figures)],
        has_events=data.has_events,
        render_seconds=round(time.monotonic() - t0, 2),
    )
    return html


def _overview(data: StudyData) -> dict:
    a, d = data.adherence, data.days
    scheduled = int(a["events_scheduled"].sum()) if len(a) else 0
    return {
        "subjects": len(data.subjects),
        "groups": int(data.subjects["current_group_name"].nunique()) if len(data.subjects) else 0,
        "first_date": _fmt_date(d["local_date"].min()) if len(d) else "-",
        "last_date": _fmt_date(d["local_date"].max()) if len(d) else "-",
        "subject_days": len(d),
        "days_with_data": int(d["has_data"].sum()) if len(d) else 0,
        "valid_days": int(d["is_valid_day"].sum()) if len(d) else 0,
        "wear_hours": float(d["worn_s"].sum() / 3600) if len(d) else 0.0,
        "events": f"{int(a['events_done'].sum())} / {scheduled}" if scheduled else "none scheduled",
        "astroskin": int((data.subjects["device_model"] == "Astroskin").sum()) if len(data.subjects) else 0,
    }


def _fmt_date(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if pd.notna(value) else "-"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for the template, numbers rounded for display, missing values as '-'."""
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
                clean[key] = "-"
            elif isinstance(value, float):
                clean[key] = f"{value:,.1f}"
            elif isinstance(value, pd.Timestamp):
                clean[key] = value.strftime("%Y-%m-%d")
            else:
                clean[key] = value
        out.append(clean)
    return out
