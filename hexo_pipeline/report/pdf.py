"""The report as PDF: headless Chromium's --print-to-pdf over the self-contained HTML page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
)


class PdfError(RuntimeError):
    pass


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_to_pdf(html: Path, pdf: Path | None = None, timeout: float = 120) -> Path:
    """Print `html` to `pdf` (default: beside it, .pdf); a fresh browser profile each time."""
    exe = browser()
    if exe is None:
        raise PdfError("headless Chromium not found (apt-get install -y chromium)")
    pdf = pdf or html.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(prefix="hexo-chromium-") as profile:
        run = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if run.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"chromium --print-to-pdf failed (exit {run.returncode}): {run.stderr.strip()[-300:]}")
    return pdf
