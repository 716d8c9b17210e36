"""Study-level assets (unpartitioned): the subjects of the study, the API's catalogs, and the study's
structure (groups, memberships, group history)."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from ...ingest.study_side import datatypes_table, study_tables
from ...ingest.subject_day import now_utc
from ...lake.contract import SUBJECTS_SCHEMA
from ..resources import HexoskinResource, LakeResource, StudyResource
from ..shared import API_POOL, API_RETRY

GROUP = "study"


def is_study_subject(username: str, uuid: str | None) -> bool:
    """Subjects' usernames are `<study uuid>_<id>` (seed doc); without a uuid, every visible user but
    the account itself counts (the account is filtered by the caller)."""
    return uuid is None or username.startswith(f"{uuid}_")


@dg.asset(group_name=GROUP, pool=API_POOL, retry_policy=dg.RetryPolicy(max_retries=2, delay=5))
def subjects(hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource) -> dg.MaterializeResult:
    """The study's subjects as the API lists them (users visible to the account, by study uuid)."""
    with hexoskin.client() as api:
        users = list(api.iter_list("user", order_by="id"))
    received = now_utc()
    uuid = study.settings().uuid
    rows = [
        {
            "user_id": int(u["id"]),
            "username": u["username"],
            "first_name": u.get("first_name"),
            "last_name": u.get("last_name"),
            "email": u.get("email"),
            "received_at": received,
        }
        for u in users
        if u.get("username") and is_study_subject(u["username"], uuid)
    ]
    storage.lake().write_study_table("subjects", pa.Table.from_pylist(rows, schema=SUBJECTS_SCHEMA))
    return dg.MaterializeResult(metadata={"subjects": len(rows)})


@dg.asset(group_name=GROUP)
def datatype_catalog(storage: LakeResource) -> dg.MaterializeResult:
    """The typed datatype catalog (units, rates, raw->physical conversions) that staging models apply."""
    table = datatypes_table()
    storage.lake().write_study_table("datatypes", table)
    return dg.MaterializeResult(metadata={"datatypes": table.num_rows})


STUDY_DATASETS = ("study", "study_groups", "study_members", "study_group_history")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, group_name=GROUP, description=f"The study's {name.replace('_', ' ')}")
        for name in STUDY_DATASETS
    ],
    pool=API_POOL,
    retry_policy=API_RETRY,
    check_specs=[dg.AssetCheckSpec("every_member_has_a_group", asset="study_members")],
)
def study_structure(hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource):
    """Study, groups, memberships (onboarding date, current group) and the group history."""
    with hexoskin.client() as api:
        tables = study_tables(api, now_utc(), study.settings().uuid)
    lake = storage.lake()
    for name in STUDY_DATASETS:
        lake.write_study_table(name, tables[name])
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": tables[name].num_rows})
    members = tables["study_members"]
    missing = members.filter(pc.is_null(members["group_id"])).column("user_id").to_pylist()
    yield dg.AssetCheckResult(
        check_name="every_member_has_a_group",
        asset_key="study_members",
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"members_without_group": str(missing)},
    )
