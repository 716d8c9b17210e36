"""The study report: one self-contained HTML page per study, from the published marts.

`reports/<study>/index.html` opens offline: plots are inline SVG, styles inline, no network asset. A
few lines of inline JavaScript only check, once the page is laid out, that every plot has a size
(`data-plots-rendered` on <html>), which the headless-browser test reads.

Every table cell that shows a mart value carries it raw (`data-mart`, `data-key`, `data-col`,
`data-value`), so a test can check the page against the marts.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pandas as pd

from . import plots
from .data import GAPS_SHOWN, StudyData, connect, load_study, studies

TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("hexo_pipeline.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
ISSUES_SHOWN = 200  # per kind; the rest is counted (rpt_data_issues has them all)
# Per-subject small multiples past this many subjects: the flagged subjects first, then by label, up to it.
PANELS_SHOWN = 100

# (metric of rpt_subject_week / rpt_group_week, label, unit)
COMPLIANCE_METRICS = (
    ("wear_hours_per_day", "Wear", "h/day"),
    ("valid_days", "Valid days", "days/week"),
    ("adherence_pct", "Adherence", "%"),
    ("survey_compliance_pct", "Survey compliance", "%"),
)
PHYSIOLOGY_METRICS = (
    ("hr_mean_bpm", "Heart rate", "bpm"),
    ("resting_hr_bpm", "Resting heart rate", "bpm"),
    ("rmssd_ms", "RMSSD", "ms"),
    ("sdnn_ms", "SDNN", "ms"),
    ("br_mean_rpm", "Breathing rate", "rpm"),
    ("steps_per_worn_day", "Steps", "steps/day"),
    ("sleep_hours_per_night", "Sleep", "h/night"),
)
SMALL_MULTIPLES = (
    ("hr_mean_bpm", "Heart rate", "bpm"),
    ("resting_hr_bpm", "Resting heart rate", "bpm"),
    ("rmssd_ms", "RMSSD", "ms"),
    ("br_mean_rpm", "Breathing rate", "rpm"),
)
COMPARED = (
    ("wear_hours_per_day", "Wear", "h/day"),
    ("adherence_pct", "Adherence", "%"),
    ("survey_compliance_pct", "Survey compliance", "%"),
    ("hr_mean_bpm", "Heart rate", "bpm"),
    ("rmssd_ms", "RMSSD", "ms"),
)


ATTENTION_FLAGS = ["low_wear", "low_valid_days", "low_adherence", "low_survey_compliance"]


@dataclass
class Cell:
    text: str
    mart: str | None = None
    key: str | None = None
    col: str | None = None
    value: str | None = None
    flag: bool = False


def render_study_reports(
    duckdb_path: str | os.PathLike[str],
    reports_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Render reports/<study>/index.html for every study in the published warehouse. Everything comes from
    the marts (quarantined files too: rpt_quarantine); `data_dir` is accepted for older callers, unused."""
    reports_dir = Path(reports_dir)
    con = connect(duckdb_path)
    try:
        return [render_study_report(load_study(con, study), reports_dir) for study in studies(con)]
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
    panels = _panel_subjects(data)
    sections = {
        "compliance": _compliance_figures(data),
        "yield": [_yield_heatmap(data)],
        "physiology": [
            plots.group_weekly(data.group_weeks, m, title=f"{label} per group and week", ylabel=unit)
            for m, label, unit in PHYSIOLOGY_METRICS
        ],
        "subjects": [
            plots.small_multiples(data.days, m, title=f"{label} per subject and day", ylabel=unit, subjects=panels)
            for m, label, unit in SMALL_MULTIPLES
        ],
        "comparison": [
            plots.comparison(data.comparison, m, title=f"{label}: difference between groups per week", ylabel=unit)
            for m, label, unit in COMPARED
        ],
    }
    counter = iter(range(1000))
    figures = {name: [{"id": f"plot-{next(counter)}", "svg": svg} for svg in svgs] for name, svgs in sections.items()}
    attention = data.attention
    first = attention.iloc[0] if len(attention) else None
    html = TEMPLATE.get_template("study_report.html.j2").render(
        study=data.study,
        study_name=data.study_name,
        built_at=data.built_at,
        rendered_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        overview=_overview(data),
        thresholds=None
        if first is None
        else {
            "window_days": int(first["window_days"]),
            "wear": _num(first["min_wear_hours_per_day"]),
            "valid_days": int(first["min_valid_days"]),
            "adherence": _num(first["min_adherence_pct"], 0),
            "survey": _num(first["min_survey_pct"], 0),
            "as_of": _date(first["as_of_date"]),
            "window_start": _date(first["window_start"]),
        },
        attention=_attention_rows(attention),
        attention_ok=int((~attention["needs_attention"]).sum()) if len(attention) else 0,
        group_weeks=_group_week_rows(data.group_weeks),
        has_events=data.has_events,
        has_surveys=data.has_surveys,
        quarantine=_quarantine_rows(data.quarantine),
        gap_counts=_gap_counts(data.gap_counts),
        gaps=_gap_rows(data.gaps),
        gaps_shown=GAPS_SHOWN,
        checks=_check_rows(data.checks),
        checks_passed=data.checks_passed,
        issue_counts=data.issues.groupby("issue_kind").size().to_dict() if len(data.issues) else {},
        issues=_issue_rows(data.issues),
        subjects=_subject_rows(data.adherence),
        figures=figures,
        panels_shown=len(panels),
        panels_flagged=len(set(panels) & set(_flagged_labels(data.attention))),
        flagged_total=len(_flagged_labels(data.attention)),
        panels_total=data.days["subject_label"].nunique() if len(data.days) else 0,
        plots_expected=sum(len(v) for v in figures.values()),
        render_seconds=round(time.monotonic() - t0, 2),
    )
    return html


def _flagged_labels(attention: pd.DataFrame) -> list[str]:
    """The subjects rpt_attention flags, most flags first (the order of the attention table)."""
    if not len(attention):
        return []
    flagged = attention[attention["needs_attention"]]
    order = flagged[ATTENTION_FLAGS].sum(axis=1).sort_values(ascending=False, kind="stable").index
    return list(flagged.loc[order, "subject_label"])


def _panel_subjects(data: StudyData) -> list[str]:
    """The subjects of the per-subject small multiples: all up to PANELS_SHOWN; past it the flagged
    subjects first, then the others by label, PANELS_SHOWN in all (the page says how many are left out)."""
    labels = sorted(data.days["subject_label"].unique()) if len(data.days) else []
    if len(labels) <= PANELS_SHOWN:
        return labels
    known = set(labels)
    flagged = [x for x in dict.fromkeys(_flagged_labels(data.attention)) if x in known]
    first = set(flagged)
    return (flagged + [x for x in labels if x not in first])[:PANELS_SHOWN]


def _compliance_figures(data: StudyData) -> list[str]:
    weeks = data.subject_weeks
    if not len(weeks):
        return [plots.heatmap(pd.DataFrame(), title="Adherence per subject and week", vmin=0, vmax=100, colorbar="%")]
    index = weeks["subject_label"] + " (" + weeks["group_name"] + ")"
    w = weeks.assign(row=index)

    def pivot(column: str) -> pd.DataFrame:  # one row of rpt_subject_week per subject and week
        return w.pivot(index="row", columns="week_start", values=column)

    enrolled = pivot("days_enrolled")
    compact = plots.is_compact(*enrolled.shape)  # no text in compact cells: no notes to compute
    if not compact:
        w = w.assign(
            adh_note=[f"{d}/{s}" if s else "" for d, s in zip(w["events_done"], w["events_scheduled"])],
            svy_note=[
                f"{a}/{e:g}" if pd.notna(e) else ""
                for a, e in zip(w["survey_days_answered"], w["survey_days_expected"])
            ],
        )
    out = [
        plots.heatmap(
            pivot("adherence_pct"),
            title="Adherence per subject and week (events done / scheduled)",
            vmin=0,
            vmax=100,
            colorbar="adherence %",
            enrolled=enrolled.notna(),
            notes=None if compact else pivot("adh_note"),
            column_label="week starting (Monday)",
            missing_label="nothing scheduled",
        )
    ]
    if data.has_surveys:
        out.append(
            plots.heatmap(
                pivot("survey_compliance_pct"),
                title="Survey compliance per subject and week (days answered / planned)",
                vmin=0,
                vmax=100,
                colorbar="survey compliance %",
                enrolled=enrolled.notna(),
                notes=None if compact else pivot("svy_note"),
                column_label="week starting (Monday)",
            )
        )
    return out


def _yield_heatmap(data: StudyData) -> str:
    d = data.days
    if not len(d):
        return plots.heatmap(pd.DataFrame(), title="Data yield", vmin=0, vmax=1, colorbar="")
    d = d.assign(
        row=d["subject_label"] + " (" + d["group_name"].fillna("?") + ")",
        yield_ratio=d["ratio_valid_minutes"].where(d["has_data"]),
    )
    # One row of fct_subject_day per subject and day: a plain pivot (no aggregation).
    values = d.pivot(index="row", columns="local_date", values="yield_ratio")
    enrolled = d.assign(e=True).pivot(index="row", columns="local_date", values="e").notna()
    notes = None
    if not plots.is_compact(*values.shape):
        d = d.assign(note=[f"{w / 3600:.0f}" if w else "" for w in d["worn_s"]])
        notes = d.pivot(index="row", columns="local_date", values="note")
    return plots.heatmap(
        values,
        title="Data yield per subject and local day (share of valid minutes"
        + ("; numbers: worn hours)" if notes is not None else ")"),
        vmin=0,
        vmax=1,
        colorbar="valid minutes / day",
        notes=notes,
        enrolled=enrolled,
    )


def _overview(data: StudyData) -> dict:
    d = data.days
    return {
        "subjects": len(data.subjects),
        "groups": int(data.subjects["current_group_name"].nunique()) if len(data.subjects) else 0,
        "first_date": _date(d["local_date"].min()) if len(d) else "-",
        "last_date": _date(d["local_date"].max()) if len(d) else "-",
        "attention": int(data.attention["needs_attention"].sum()) if len(data.attention) else 0,
        "quarantined": len(data.quarantine),
        "issues": len(data.issues),
        "gaps": int(data.gap_counts["subject_days"].sum()) if len(data.gap_counts) else 0,
        "checks": len(data.checks),
    }


def _num(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if isinstance(value, (int,)) or (isinstance(value, float) and digits == 0):
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _date(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if value is not None and pd.notna(value) else "-"


def _raw(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (pd.Timestamp, datetime)) or hasattr(value, "isoformat"):
        return _date(value)
    return repr(float(value)) if isinstance(value, float) else str(value)


def _cell(mart: str, key, col: str, value, text: str | None = None, flag: bool = False) -> Cell:
    return Cell(text if text is not None else _num(value), mart, str(key), col, _raw(value), flag)


def _attention_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    flagged = frame[frame["needs_attention"]] if len(frame) else frame
    # Most flags first: the subjects to call before the others.
    order = (
        flagged[ATTENTION_FLAGS].sum(axis=1).sort_values(ascending=False, kind="stable").index if len(flagged) else []
    )
    for r in flagged.loc[order].to_dict("records"):
        m, k = "rpt_attention", r["subject_id"]
        rows.append(
            [
                _cell(m, k, "subject_label", r["subject_label"], r["subject_label"]),
                _cell(m, k, "group_name", r["group_name"], r["group_name"]),
                _cell(m, k, "attention_reasons", r["attention_reasons"], r["attention_reasons"]),
                _cell(m, k, "wear_hours_per_day", r["wear_hours_per_day"], flag=r["low_wear"]),
                _cell(
                    m,
                    k,
                    "valid_days",
                    r["valid_days"],
                    f"{r['valid_days']} / {r['days_in_window']}",
                    flag=r["low_valid_days"],
                ),
                _cell(
                    m,
                    k,
                    "adherence_pct",
                    r["adherence_pct"],
                    f"{_num(r['adherence_pct'], 0)} % ({r['events_done']}/{r['events_scheduled']})"
                    if r["events_scheduled"]
                    else "nothing scheduled",
                    flag=r["low_adherence"],
                ),
                _cell(
                    m,
                    k,
                    "survey_compliance_pct",
                    r["survey_compliance_pct"],
                    f"{_num(r['survey_compliance_pct'], 0)} % ({r['survey_days_answered']} days)"
                    if pd.notna(r["survey_compliance_pct"])
                    else "no surveys",
                    flag=r["low_survey_compliance"],
                ),
                _cell(
                    m,
                    k,
                    "last_data_date",
                    r["last_data_date"],
                    _date(r["last_data_date"]) if pd.notna(r["last_data_date"]) else "never (no data)",
                ),
            ]
        )
    return rows


def _group_week_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    if not len(frame):
        return []
    metrics = [m for m, _, _ in COMPLIANCE_METRICS]
    wide = frame[frame["metric"].isin(metrics)]
    rows = []
    for (g, week), gf in wide.groupby(["group_name", "week_start"], sort=True):
        by_metric = {r["metric"]: r for r in gf.to_dict("records")}
        first = next(iter(by_metric.values()))
        partial = bool(first["is_partial_week"])
        row = [
            Cell(g),
            _cell(
                "rpt_group_week",
                f"{g}|{_date(week)}|{first['metric']}",
                "is_partial_week",
                partial,
                f"{_date(week)} (partial week)" if partial else _date(week),
                flag=partial,
            ),
            _cell(
                "rpt_group_week",
                f"{g}|{_date(week)}|wear_hours_per_day",
                "subjects_enrolled",
                first["subjects_enrolled"],
            ),
        ]
        for m in metrics:
            r = by_metric.get(m)
            key = f"{g}|{_date(week)}|{m}"
            if r is None or not r["subjects_n"]:
                row.append(Cell("no data"))
                continue
            spread = "" if r["subjects_n"] < 2 else f" [{_num(r['q1_value'])}-{_num(r['q3_value'])}]"
            row.append(
                _cell(
                    "rpt_group_week",
                    key,
                    "median_value",
                    r["median_value"],
                    f"{_num(r['median_value'])}{spread} (n={r['subjects_n']})",
                )
            )
        rows.append(row)
    return rows


def _issue_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    for _, kf in frame.groupby("issue_kind", sort=True) if len(frame) else []:
        for r in kf.head(ISSUES_SHOWN).to_dict("records"):
            # record_id is NULL for gaps: pandas then holds the column as float (5001.0); the key is the id.
            record = "" if pd.isna(r["record_id"]) else str(int(r["record_id"]))
            key = f"{r['issue_kind']}|{r['subject_id']}|{_date(r['local_date'])}|{record}"
            rows.append(
                [
                    Cell(r["issue_kind"]),
                    Cell(r["subject_label"]),
                    Cell(r["group_name"]),
                    Cell(_date(r["local_date"])),
                    _cell("rpt_data_issues", key, "detail", r["detail"], r["detail"]),
                ]
            )
    return rows


def _subject_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    for r in frame.to_dict("records"):
        m, k = "rpt_study_adherence", r["subject_id"]
        rows.append(
            [
                Cell(r["subject_code"] or r["username"]),
                Cell(r["group_name"]),
                Cell(r["device_model"] or "-"),
                Cell(f"{_date(r['first_study_date'])} to {_date(r['last_study_date'])}"),
                _cell(m, k, "days_with_data", r["days_with_data"]),
                _cell(m, k, "valid_days", r["valid_days"]),
                _cell(m, k, "completeness_pct", r["completeness_pct"]),
                _cell(m, k, "wear_hours_per_day", r["wear_hours_per_day"]),
                _cell(m, k, "longest_gap_days", r["longest_gap_days"]),
                _cell(m, k, "adherence_pct", r["adherence_pct"]),
                _cell(m, k, "resting_hr_bpm", r["resting_hr_bpm"]),
                _cell(m, k, "rmssd_ms", r["rmssd_ms"]),
                _cell(m, k, "sdnn_ms", r["sdnn_ms"]),
                _cell(m, k, "br_mean_rpm", r["br_mean_rpm"]),
            ]
        )
    return rows


def _quarantine_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    for r in frame.to_dict("records"):
        key = f"{r['area']}|{r['file']}"
        rows.append(
            [
                Cell(r["area"]),
                Cell(r["file"]),
                Cell(r["subject_label"] if pd.notna(r["subject_label"]) else "-"),
                Cell(_date(r["lake_date"])),
                _cell("rpt_quarantine", key, "reason", r["reason"], r["reason"]),
                Cell(_date(r["quarantined_at"])),
            ]
        )
    return rows


def _gap_counts(frame: pd.DataFrame) -> list[dict]:
    return [
        {"family": r["family"], "status": r["status"], "subject_days": int(r["subject_days"])}
        for r in frame.to_dict("records")
    ]


def _gap_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    for r in frame.to_dict("records"):
        key = f"{r['subject_id']}|{_date(r['local_date'])}|{r['family']}"
        m = "fct_subject_day_completeness"
        if r["status"] == "quarantined":
            detail = _cell(m, key, "quarantine_reasons", r["quarantine_reasons"], r["quarantine_reasons"])
        else:
            detail = Cell(f"nothing ingested: materialize {r['dagster_asset']} for this subject-day again")
        rows.append(
            [
                Cell(r["subject_label"]),
                Cell(r["group_name"]),
                Cell(_date(r["local_date"])),
                Cell(r["family"]),
                _cell(m, key, "status", r["status"], r["status"], flag=True),
                detail,
            ]
        )
    return rows


def _check_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    rows = []
    for r in frame.to_dict("records"):
        m, k = "rpt_build_checks", r["check_id"]
        rows.append(
            [
                Cell(r["check_name"]),
                Cell(r["model"] or "-"),
                Cell(r["column_name"] if pd.notna(r["column_name"]) else "-"),
                _cell(m, k, "status", r["status"], r["status"], flag=True),
                _cell(m, k, "failures", r["failures"]),
                Cell(r["message"] if pd.notna(r["message"]) else "-"),
            ]
        )
    return rows
