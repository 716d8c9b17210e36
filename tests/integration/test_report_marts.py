"""The study report against its marts: every figure it shows is the mart's value, the no-data states
(a subject without data, a one-subject group, a study without surveys, a day with nothing scheduled),
the data-quality section (completeness gaps, quarantined files, failed checks, partial weeks), the
warning `hexo-pipeline marts` prints about the gaps, and `hexo-pipeline report --pdf`."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import duckdb
import pytest
from conftest import study_calendar
from report_helpers import SIGNAL_QUARANTINE, chromium, console_messages, make_edge_cases

from hexo_pipeline.cli import main
from hexo_pipeline.report import render_study_reports
from hexo_pipeline.report.plots import is_compact
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = pytest.mark.slow  # dbt builds, Chromium

START = date(2026, 3, 2)
DAYS = 8
# The key each rpt cell names, per mart (data-key joins these columns with "|").
KEYS = {
    "rpt_attention": ["subject_id"],
    "rpt_study_adherence": ["subject_id"],
    "rpt_group_week": ["group_name", "week_start", "metric"],
    "rpt_data_issues": ["issue_kind", "subject_id", "local_date", "coalesce(cast(record_id as varchar), '')"],
    "rpt_quarantine": ["area", "file"],
    "fct_subject_day_completeness": ["subject_id", "local_date", "family"],
    "rpt_build_checks": ["check_id"],
}
# What each fixture's report must show from the marts (the edge lake has quarantined files, gaps, a warning check).
SHOWN = {
    "demo": {
        "rpt_attention",
        "rpt_group_week",
        "rpt_study_adherence",
        "rpt_data_issues",
        "fct_subject_day_completeness",
    },
    "edge": {"rpt_group_week", "rpt_quarantine", "fct_subject_day_completeness", "rpt_build_checks"},
}


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-mart" in a:
            self.cells.append(a)


def mart_cells(html: str) -> list[dict]:
    parser = _Cells()
    parser.feed(html)
    return parser.cells


@pytest.fixture(scope="module")
def demo(tmp_path_factory, build_warehouse):
    root = tmp_path_factory.mktemp("report_demo")
    write_synthetic_lake(root, subjects=6, days=DAYS, start=START, minutes=45)
    result = build_warehouse(root, study_calendar(START, DAYS))
    [page] = render_study_reports(result.published, root / "reports")
    return root, result.published, page


@pytest.fixture(scope="module")
def edge(tmp_path_factory, build_warehouse):
    root = tmp_path_factory.mktemp("report_edge")
    write_synthetic_lake(root, subjects=4, days=4, start=START, minutes=30)
    make_edge_cases(root, START, 4)
    result = build_warehouse(root, study_calendar(START, 4))
    [page] = render_study_reports(result.published, root / "reports")
    return root, result.published, page


def _mart_value(con, mart: str, key: str, col: str):
    columns = KEYS[mart]
    where = " and ".join(f"cast({c} as varchar) = ?" for c in columns)
    rows = con.execute(f"select {col} from marts.{mart} where {where}", key.split("|")).fetchall()
    assert len(rows) == 1, (mart, key, col, rows)
    return rows[0][0]


@pytest.mark.parametrize("case", ["demo", "edge"])
def test_every_figure_in_the_report_is_its_mart_value(case, request):
    _, published, page = request.getfixturevalue(case)
    cells = mart_cells(page.read_text(encoding="utf-8"))
    assert {c["data-mart"] for c in cells} >= SHOWN[case]
    con = duckdb.connect(str(published), read_only=True)
    try:
        for c in cells:
            expected = _mart_value(con, c["data-mart"], c["data-key"], c["data-col"])
            shown = c["data-value"]
            if expected is None:
                assert shown == "", c
            elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
                assert math.isclose(float(shown), float(expected), rel_tol=1e-12), c
            else:
                assert shown == str(expected), c
        # The attention list is exactly the subjects rpt_attention flags.
        flagged = {
            str(r[0])
            for r in con.execute("select subject_id from marts.rpt_attention where needs_attention").fetchall()
        }
    finally:
        con.close()
    listed = {c["data-key"] for c in cells if c["data-mart"] == "rpt_attention"}
    assert listed == flagged


def test_no_data_states_render_clearly(edge):
    root, published, page = edge
    html = page.read_text(encoding="utf-8")
    con = duckdb.connect(str(published), read_only=True)
    try:
        groups = dict(con.execute("select current_group_name, count(*) from marts.dim_subject group by 1").fetchall())
        never = con.execute("select subject_label from marts.rpt_attention where last_data_date is null").fetchall()
        unscheduled = con.execute("select count(*) from marts.fct_subject_day where events_scheduled = 0").fetchone()[0]
    finally:
        con.close()
    assert 1 in groups.values(), "a one-subject group"
    assert [r[0] for r in never] == ["syn003"], "a subject without data"
    assert unscheduled >= 1, "a day with nothing scheduled"
    assert "never (no data)" in html
    assert "No survey responses in this study" in html
    assert "no surveys" in html  # in the attention table, instead of a compliance figure
    assert html.count(">no data<") >= 4, "syn003's small multiples say no data"
    assert "(n=1)" in html, "the one-subject group shows its n"
    assert "nothing scheduled" in html
    assert "garbled.fit" in html and "FIT header: bad magic bytes" in html, "the quarantined file and its reason"


def test_the_report_shows_gaps_quarantine_failed_checks_and_partial_weeks(edge):
    """What the marts do not contain, from the marts: the subject-day whose signals step failed, the one
    whose signal download is in quarantine, the warn check that failed, and the partial study weeks."""
    _, published, page = edge
    html = page.read_text(encoding="utf-8")
    cells = mart_cells(html)
    con = duckdb.connect(str(published), read_only=True)
    try:
        gaps = con.execute(
            "select subject_id, local_date, family, status from marts.fct_subject_day_completeness "
            "where is_gap and family <> 'records' order by all"
        ).fetchall()
        summaries_only = con.execute(
            "select family, status, is_gap from marts.fct_subject_day_completeness where username = "
            "'5e7a0c1d_syn004' and local_date = ? and family in ('records', 'signals', 'summaries') order by 1",
            [START + timedelta(days=2)],
        ).fetchall()
        warned = con.execute("select check_id from marts.rpt_build_checks where status = 'warn'").fetchall()
        passed = con.execute("select count(*) from marts.rpt_build_checks where status = 'pass'").fetchone()[0]
        partial = con.execute(
            "select distinct group_name || '|' || strftime(week_start, '%Y-%m-%d') from marts.rpt_group_week "
            "where is_partial_week"
        ).fetchall()
    finally:
        con.close()
    assert [(g[2], g[3]) for g in gaps] == [
        ("signals", "quarantined"),
        ("signals", "missing"),
        ("summaries", "missing"),
    ]
    # Summaries without signal files (a summary-only lake): the summaries prove the signals step ran.
    assert summaries_only == [
        ("records", "ingested", False),
        ("signals", "none", False),
        ("summaries", "ingested", False),
    ]
    shown_gaps = {
        c["data-key"]: c["data-value"]
        for c in cells
        if c["data-mart"] == "fct_subject_day_completeness" and c["data-col"] == "status"
    }
    for subject_id, day, family, status in gaps:
        assert shown_gaps[f"{subject_id}|{day}|{family}"] == status
    assert SIGNAL_QUARANTINE in html and "record_7.zip" in html
    assert "materialize signals for this subject-day again" in html
    assert len(warned) == 1 and "accepted_range_fct_range_hr_mean_bpm" in warned[0][0]
    assert {c["data-key"] for c in cells if c["data-mart"] == "rpt_build_checks"} == {warned[0][0]}
    assert f"{passed} other checks passed" in html
    assert partial and "(partial week)" in html
    flagged_weeks = {
        c["data-key"].rsplit("|", 1)[0]
        for c in cells
        if c["data-mart"] == "rpt_group_week" and c["data-col"] == "is_partial_week" and c["data-value"] == "True"
    }
    assert flagged_weeks == {p[0] for p in partial}


def test_a_clean_data_quality_section_says_so(demo):
    html = demo[2].read_text(encoding="utf-8")
    assert "No file in quarantine." in html
    assert re.search(r"Every check passed \(\d+ checks\)", html)


def test_marts_command_warns_about_the_gaps_and_exits_0(edge, monkeypatch, capsys):
    root, _, _ = edge
    monkeypatch.setenv("HEXO_STUDY_START", START.isoformat())
    monkeypatch.setenv("HEXO_STUDY_END", "2026-03-06")
    monkeypatch.setenv("HEXO_STUDY_TZ", "America/Montreal")
    assert main(["marts", "--data-dir", str(root), "--full-refresh", "--no-docs", "--no-report"]) == 0
    out = capsys.readouterr()
    assert "marts published" in out.out
    warning = out.err
    assert warning.startswith("warning: the marts do not hold everything the study expects")
    assert "2 subject-days with missing or quarantined datasets" in warning
    assert "5e7a0c1d_syn002 2026-03-03 (signals missing, summaries missing)" in warning
    assert "5e7a0c1d_syn001 2026-03-04 (signals quarantined)" in warning
    assert "subject-days of the calendar without records" in warning and "5e7a0c1d_syn003" in warning
    assert "2 files in quarantine: inbox/garbled.fit (FIT header: bad magic bytes)" in warning
    assert "1 check of the build warned or failed: accepted_range_fct_range_hr_mean_bpm" in warning


def test_no_gap_no_warning():
    from hexo_pipeline.warehouse.gaps import Gaps, gaps_warning

    assert gaps_warning(Gaps()) is None


@pytest.mark.parametrize("case", ["demo", "edge"])
def test_report_in_chromium_at_1280px_has_no_overflow_and_every_plot(case, request, tmp_path):
    _, _, page = request.getfixturevalue(case)
    run = chromium(["--window-size=1280,900", "--dump-dom"], page, tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_messages(run.stderr) == []
    expected = re.search(r'data-plots-expected="(\d+)"', run.stdout)
    rendered = re.search(r'data-plots-rendered="(\d+)"', run.stdout)
    assert expected and rendered and rendered.group(1) == expected.group(1), "every plot has a laid-out SVG"
    assert 'data-horizontal-overflow="no"' in run.stdout, "every table fits or wraps at 1280 px"
    shot = page.parent / "screenshot-1280.png"
    run = chromium(["--window-size=1280,9000", f"--screenshot={shot}"], page, tmp_path / "profile2")
    assert run.returncode == 0 and shot.exists()


def test_past_the_panel_limit_the_flagged_subjects_come_first(demo, monkeypatch):
    """Past PANELS_SHOWN subjects the per-subject small multiples show the subjects rpt_attention flags
    first (most flags first), then the others by label, and the page says how many are left out."""
    from hexo_pipeline.report import render
    from hexo_pipeline.report.data import connect, load_study, studies

    _, published, _ = demo
    con = connect(published)
    try:
        data = load_study(con, studies(con)[0])
    finally:
        con.close()
    labels = sorted(data.days["subject_label"].unique())
    flagged = render._flagged_labels(data.attention)
    assert flagged and flagged != labels, "the demo flags subjects, most flags first (not in label order)"
    limit = len(labels) - 1
    monkeypatch.setattr(render, "PANELS_SHOWN", limit)
    html = render.render_html(data)
    expected = (flagged + [x for x in labels if x not in flagged])[:limit]
    assert f"{limit} of {len(labels)} subjects shown" in html
    assert f"({len(set(expected) & set(flagged))} shown of {len(flagged)} flagged)" in html
    subjects_section = html[html.index("Per subject, daily") : html.index('id="comparison"')]
    shown = re.findall(r">(\S+) \((?:control|intervention)\)<", subjects_section)
    assert shown == expected * 4, "each of the 4 metrics: the chosen panels, in that order"


def test_dates_carry_their_year(demo):
    html = demo[2].read_text(encoding="utf-8")
    assert not re.search(r">\s*\d\d-\d\d\s*<", html), "no month-day without a year"
    assert "2026-03-02" in html


def test_report_command_prints_a_pdf(demo, capsys):
    root, _, _ = demo
    assert main(["report", "--data-dir", str(root), "--pdf"]) == 0
    pdf = root / "reports" / "5e7a0c1d" / "index.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
    assert "index.pdf" in capsys.readouterr().out


def test_a_study_past_the_compact_size_renders_readable_at_1280px(tmp_path, build_warehouse):
    """A scale study (benchmarks/scale_lake.py) past the compact-heatmap size (the yield heatmap's 20 subjects
    x 40 days = 800 cells, past plots.COMPACT_CELLS; the 100 x 180 render is `benchmarks/bench_report.py`'s,
    kept out of the suite for its build time): compact heatmaps, every plot laid out, no overflow."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    scale_lake = pytest.importorskip("scale_lake")
    from hexo_pipeline.study_settings import StudySettings

    spec = scale_lake.ScaleSpec(subjects=20, days=40)
    assert is_compact(spec.subjects, spec.days)
    scale_lake.write_scale_lake(tmp_path, spec)
    result = build_warehouse(
        tmp_path, StudySettings(start=spec.start, end=spec.end, timezone="UTC", uuid=scale_lake.STUDY_UUID)
    )
    [page] = render_study_reports(result.published, tmp_path / "reports")
    con = duckdb.connect(str(result.published), read_only=True)
    try:
        signal_gaps = con.execute(
            "select count(*) from marts.fct_subject_day_completeness where family = 'signals' and is_gap"
        ).fetchone()[0]
    finally:
        con.close()
    assert signal_gaps == 0, "a summary-only lake: the summaries show the signals step ran"
    run = chromium(["--window-size=1280,900", "--dump-dom"], page, tmp_path / "profile")
    assert console_messages(run.stderr) == []
    expected = re.search(r'data-plots-expected="(\d+)"', run.stdout)
    rendered = re.search(r'data-plots-rendered="(\d+)"', run.stdout)
    assert expected and rendered and rendered.group(1) == expected.group(1)
    assert 'data-horizontal-overflow="no"' in run.stdout
    run = chromium(
        ["--window-size=1280,16000", f"--screenshot={page.parent / 'screenshot-1280.png'}"], page, tmp_path / "profile2"
    )
    assert run.returncode == 0
