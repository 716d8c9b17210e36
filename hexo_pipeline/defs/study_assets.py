"""Study-level assets (unpartitioned): the subjects of the study and the API's catalogs."""


import dagster as dg
import pyarrow as pa

from ..hexoskin import datatypes as catalog
from ..ingest.subject_day import now_utc
from ..lake.contract import DATATYPES_SCHEMA, SUBJECTS_SCHEMA
from .partitions import STUDY
from .resources import HexoskinResource, LakeResource

GROUP = "study"

def is_study_subject(username: str) -> bool:
    """Subjects' usernames are `<study uuid>_<id>` (seed doc); without a uuid, every visible user but
    the account itself counts (the account is filtered by the caller)."""
    return STUDY.uuid is None or username.startswith(f"{STUDY.uuid}_")


@dg.asset(group_name=GROUP, pool="hexoskin_api", retry_policy=dg.RetryPolicy(max_retries=2, delay=5))
def subjects(hexoskin: HexoskinResource, storage: LakeResource) -> dg.MaterializeResult:
    """The study's subjects as the API lists them (users visible to the account, by study uuid)."""
    with hexoskin.client() as api:
        users = list(api.iter_list("user", order_by="id"))
    received = now_utc()
    rows = [{"user_id": int(u["id"]), "username": u["username"], "first_name": u.get("first_name"),
             "last_name": u.get("last_name"), "email": u.get("email"), "received_at": received}
            for u in users if u.get("username") and is_study_subject(u["username"])]
    storage.lake().write_study_table("subjects", pa.Table.from_pylist(rows, schema=SUBJECTS_SCHEMA))
    return dg.MaterializeResult(metadata={"subjects": len(rows)})


@dg.asset(group_name=GROUP)
def datatype_catalog(storage: LakeResource) -> dg.MaterializeResult:
    """The typed datatype catalog (units, rates, raw->physical conversions) that staging models apply."""
    rows = [{"datatype_id": d.id, "name": d.name, "unit": d.unit, "rate_hz": d.rate_hz,
             "synchronous": d.synchronous, "family": d.family.value, "scale": d.scale, "offset": d.offset,
             "signed": d.signed, "quality_datatype_id": d.quality_id, "info": d.info} for d in catalog.DATATYPES]
    storage.lake().write_study_table("datatypes", pa.Table.from_pylist(rows, schema=DATATYPES_SCHEMA))
    return dg.MaterializeResult(metadata={"datatypes": len(rows)})
