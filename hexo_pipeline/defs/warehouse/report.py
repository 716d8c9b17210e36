"""The study report asset: reports/<study>/index.html rendered from the published marts."""

import time

import dagster as dg

from ...report import render_study_reports
from ...warehouse import Warehouse
from ..resources import LakeResource

GROUP = "report"
# The marts the report reads (their dbt asset keys: <schema>/<model>).
REPORT_INPUTS = [
    dg.AssetKey(["marts", name])
    for name in (
        "dim_subject",
        "fct_subject_day",
        "rpt_study_adherence",
        "rpt_attention",
        "rpt_subject_week",
        "rpt_group_week",
        "rpt_group_comparison_week",
        "rpt_data_issues",
    )
]


@dg.asset(group_name=GROUP, deps=REPORT_INPUTS, kinds={"html"})
def study_report(context: dg.AssetExecutionContext, storage: LakeResource) -> dg.MaterializeResult:
    """One self-contained HTML page per study (cohort overview, adherence heatmap, wear and completeness,
    heart rate, HRV, breathing, activity and sleep per group), from warehouse/hexo.duckdb read-only."""
    warehouse = Warehouse(storage.root)
    if not warehouse.published.exists():
        raise dg.Failure(f"no published warehouse at {warehouse.published}: materialize the dbt assets first")
    t0 = time.monotonic()
    paths = render_study_reports(warehouse.published, storage.root / "reports")
    seconds = time.monotonic() - t0
    context.log.info(f"rendered {len(paths)} report(s) in {seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "reports": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in paths) or "none"),
            "path": dg.MetadataValue.path(str(paths[0])) if paths else dg.MetadataValue.text("none"),
            "render_seconds": round(seconds, 2),
        }
    )
