"""The subjects registry: new study subjects become partitions of the `subjects` dimension."""

import dagster as dg

from ..partitions import subjects_partitions
from ..resources import NOT_CONFIGURED, HexoskinResource, StudyResource
from .assets import is_study_subject


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def subjects_sensor(context: dg.SensorEvaluationContext, hexoskin: HexoskinResource, study: StudyResource):
    """Adds new study subjects to the `subjects` partition dimension (removed ones are kept)."""
    if not hexoskin.configured:
        return dg.SkipReason(NOT_CONFIGURED)
    uuid = study.settings().uuid
    try:
        with hexoskin.client() as api:
            names = [
                u["username"]
                for u in api.iter_list("user", order_by="id")
                if u.get("username") and is_study_subject(u["username"], uuid)
            ]
    except dg.Failure as failure:  # configuration or remote side: one line, the next tick tries again
        return dg.SkipReason(failure.description)
    known = set(context.instance.get_dynamic_partitions(subjects_partitions.name))
    new = [n for n in names if n not in known]
    if not new:
        return dg.SkipReason(f"{len(known)} subjects, none new")
    return dg.SensorResult(dynamic_partitions_requests=[subjects_partitions.build_add_request(new)])
