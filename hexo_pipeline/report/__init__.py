"""The study report: reports/<study>/index.html rendered from the published marts."""

from .render import render_html, render_study_report, render_study_reports

__all__ = ["render_html", "render_study_report", "render_study_reports"]
