"""Who sees whose data (seed doc: "coach-athlete" relation and the study roles).

- A subject (and any plain user) sees only itself.
- A coach sees itself and its athletes: the users who granted it the "coach" bundle
  (/api/bundle_permission/ with user_allowed = coach, user_target = athlete). Athletes do not see the
  coach's data (seed).
- The study owner and the study admins see themselves and every subject of the study.
Anything else is absent from lists and a 404 on detail views (seed: "404 Not Found - The resource does
not exist or you are not allowed to see the resource instance requested").
"""

from __future__ import annotations

from ..world.study import Study


def study_role(study: Study, user_id: int) -> str | None:
    if user_id == study.owner_id:
        return "owner"
    if user_id in study.admin_ids:
        return "admin"
    if user_id in study.memberships:
        return "subject"
    return None


def manages_study(study: Study, user_id: int) -> bool:
    return study_role(study, user_id) in ("owner", "admin")


def visible_user_ids(study: Study, user_id: int) -> set[int]:
    seen = {user_id}
    if manages_study(study, user_id):
        seen.update(study.memberships)
    seen.update(
        p.user_target for p in list(study.bundle_permissions.values()) if p.user_allowed == user_id and p.bundle_id == 1
    )
    return seen


def can_see(study: Study, viewer_id: int, owner_id: int) -> bool:
    return owner_id in visible_user_ids(study, viewer_id)
