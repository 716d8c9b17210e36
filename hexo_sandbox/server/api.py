"""The pieces every resource shares: the request context, the Provider interface and small helpers.

A Provider pairs a `ResourceDef` (schema, filters, ordering, methods) with what only it knows: the rows
the viewer may see (values comparable by the Tastypie filters, the object under "_obj"), how a row is
serialized, and, where the API allows it, how it is created, updated or deleted. `app.py` drives them
all through the same list and detail views.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import Request, Response

from hexo_pipeline.hexoskin.timestamps import from_ticks

from .auth import Principal
from .permissions import manages_study, visible_user_ids
from .state import SandboxState
from .tastypie import ApiError, Query, ResourceDef

JSON_TYPE = "application/json"
_URI = re.compile(r"^/api/(?:v1/)?([a-z_0-9]+)/([^/]+)/?$")


@dataclass
class Ctx:
    state: SandboxState
    who: Principal
    request: Request

    @property
    def study(self):
        return self.state.study

    @property
    def user_id(self) -> int:
        return self.who.user_id

    def visible_users(self) -> set[int]:
        return visible_user_ids(self.study, self.who.user_id)

    def can_write_for(self, owner_id: int) -> bool:
        """A user writes its own data; the study's owner and admins write their subjects' too."""
        return owner_id == self.who.user_id or (
            manages_study(self.study, self.who.user_id) and owner_id in self.study.memberships
        )


class Provider:
    definition: ResourceDef

    def rows(self, ctx: Ctx, query: Query) -> list[dict[str, Any]]:
        raise NotImplementedError

    def serialize(self, ctx: Ctx, row: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def find(self, ctx: Ctx, obj_id: str) -> dict[str, Any] | None:
        id_field = self.definition.id_field
        empty = Query([], [], 0, 0, {})
        return next((r for r in self.rows(ctx, empty) if str(r[id_field]) == obj_id), None)

    def list_meta(self, ctx: Ctx, rows: list[dict[str, Any]], query: Query) -> dict[str, Any]:
        return {}

    def list_response(self, ctx: Ctx) -> Response | None:
        """A list view that is not a Tastypie list (data, report): return the response, else None."""
        return None

    def detail_response(self, ctx: Ctx, row: dict[str, Any]) -> Response | None:
        """A detail answered in another format (TCX/FIT): return the response, else None for JSON."""
        return None

    def create(self, ctx: Ctx, body: Any) -> dict[str, Any]:
        raise ApiError(501, f"POST on {self.definition.name} is not implemented by the sandbox.")

    def update(self, ctx: Ctx, row: dict[str, Any], body: dict[str, Any], partial: bool) -> None:
        raise ApiError(501, f"Updating a {self.definition.name} is not implemented by the sandbox.")

    def delete(self, ctx: Ctx, row: dict[str, Any]) -> None:
        raise ApiError(501, f"DELETE on a {self.definition.name} is not implemented by the sandbox.")


# -- helpers ------------------------------------------------------------------------------------------


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype=JSON_TYPE, headers=headers)


def uri(resource: str, obj_id: Any) -> str | None:
    return None if obj_id is None else f"/api/{resource}/{obj_id}/"


def uri_id(value: Any, resource: str | None = None) -> Any:
    """`/api/user/9/`, "9" or 9 -> 9 (the seed: "user=9 will also work"); None stays None."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    m = _URI.match(text)
    if m:
        if resource and m.group(1) != resource:
            raise ApiError(400, f"Expected a /api/{resource}/ URI, got {text!r}.")
        text = m.group(2)
    return int(text) if text.isdigit() else text


def iso(dt: datetime | None) -> str | None:
    """Datetimes as the API prints them: ISO 8601, UTC, +00:00."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat()


def start_date(ticks: int) -> str:
    """`start_date` as the API prints it: whole seconds, +00:00. The seed's examples truncate the
    fraction (record start 361446243405 = 10:16:28.30 -> "2014-09-28T10:16:28+00:00"; annotation start
    123456 = 482.25 s -> "1970-01-01T00:08:02+00:00")."""
    return from_ticks(int(ticks)).replace(microsecond=0).isoformat()


def json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def editable(body: dict[str, Any], allowed: tuple[str, ...], name: str) -> dict[str, Any]:
    unknown = sorted(k for k in body if k not in allowed and k not in ("resource_uri", "id"))
    if unknown:
        raise ApiError(400, f"Fields not editable on {name}: {', '.join(unknown)}.")
    return {k: v for k, v in body.items() if k in allowed}


def as_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, f"'{name}' must be a date YYYY-MM-DD, got {value!r}.") from None
