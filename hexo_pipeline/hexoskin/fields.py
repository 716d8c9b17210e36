"""Values of API objects as Python values: ISO datetimes and related fields (nested, URI or id)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_iso(value: str | None) -> datetime | None:
    """An API datetime (ISO 8601, `Z` or an offset; naive means UTC), None when empty."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def related_id(value: Any) -> int | None:
    """A related field as an id: nested object, URI or plain id."""
    if value is None:
        return None
    if isinstance(value, dict):
        return int(value["id"]) if "id" in value else related_id(value.get("resource_uri"))
    if isinstance(value, str):
        return int(value.rstrip("/").rsplit("/", 1)[-1])
    return int(value)
