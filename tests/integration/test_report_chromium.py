"""The study report in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run).

The report is rendered from a warehouse built on the synthetic lake (groups, calendar, surveys, an
Astroskin wearer, a night record), opened offline (every host name resolves to nowhere): the page must
log nothing to the console and every plot must have a laid-out SVG. A deliberately broken page checks that
the console check can fail. The screenshot is kept next to the report for a human look.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from conftest import study_calendar

from hexo_pipeline.report import render_study_reports
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = pytest.mark.slow  # a dbt build, Chromium

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
START = date(2026, 3, 2)
DAYS = 8


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed here (apt-get install -y chromium; .ci/run installs it)")


def _chromium(args: list[str], page: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    command = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=5000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory, build_warehouse):
    root = tmp_path_factory.mktemp("report")
    write_synthetic_lake(root, subjects=6, days=DAYS, start=START, minutes=45)
    result = build_warehouse(root, study_calendar(START, DAYS))
    paths = render_study_reports(result.published, root / "reports")
    assert len(paths) == 1
    return paths[0]


def test_report_is_one_self_contained_file(report):
    html = report.read_text(encoding="utf-8")
    assert report.parent.name == "5e7a0c1d" and report.name == "index.html"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I), "no network asset"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I)
    assert "<link" not in html.lower() and not re.search(r"<script[^>]+src", html, re.I)
    for section in (
        "Who needs attention this week",
        "Compliance",
        "Data yield and quality",
        "Physiology",
        "Group comparison (descriptive)",
        "Subjects over the whole study",
        "Definitions",
    ):
        assert f"<h2>{section}</h2>" in html, section
    assert html.count("<svg") >= 10
    assert "control" in html and "intervention" in html


def test_report_loads_in_headless_chromium_and_every_plot_renders(report):
    run = _chromium(["--dump-dom"], report)
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_messages(run.stderr) == []
    expected = re.search(r'data-plots-expected="(\d+)"', run.stdout)
    rendered = re.search(r'data-plots-rendered="(\d+)"', run.stdout)
    assert expected and rendered, "the page's load handler did not run"
    assert int(expected.group(1)) >= 10
    assert rendered.group(1) == expected.group(1), "every plot has a laid-out SVG"

    shot = report.parent / "screenshot.png"
    run = _chromium(["--window-size=1280,5200", f"--screenshot={shot}"], report)
    assert run.returncode == 0 and shot.exists()
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colors = len(image.resize((320, 1300)).getcolors(maxcolors=1 << 20) or [])
    assert colors > 200, "the screenshot shows plots, not a blank page"


def test_console_check_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefined_function();</script></body></html>")
    run = _chromium(["--dump-dom"], page)
    assert any("undefined_function" in line for line in console_messages(run.stderr))
