"""The study report: reports/<study>/index.html rendered from the published marts."""

from __future__ import annotations

from typing import Any

__all__ = ["render_html", "render_study_report", "render_study_reports"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: rendering imports matplotlib (~0.8 s), which every other command line would pay.
    if name in __all__:
        from . import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
