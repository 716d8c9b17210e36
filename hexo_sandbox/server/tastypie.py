"""Tastypie semantics for the sandbox: declarative resources, filters, ordering, paging and schemas.

The real API is Django + Tastypie (seed doc). Each `ResourceDef` below both serves its list/detail views
and generates its `/api/<name>/schema/`, so the schema can never drift from what is served.

Where the issue and Tastypie differ we follow the issue: Tastypie silently ignores unknown filter
fields; the sandbox answers 400 so that a typo in a client filter is caught in tests instead of
returning an unfiltered list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

ALL_FILTERS = ("exact", "in", "gt", "gte", "lt", "lte", "range")
NO_DEFAULT = "No default provided."
LIST_MAX = 1000
DATA_MAX = 65535


class ApiError(Exception):
    """An HTTP error with a JSON body `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"  # integer | float | string | boolean | datetime | date | related | list | dict
    related: str | None = None  # "to_one" | "to_many" for related fields
    to: str | None = None  # resource name a related field points at
    readonly: bool = False
    nullable: bool = False
    blank: bool = False
    unique: bool = False
    help_text: str = ""
    default: Any = NO_DEFAULT
    # Filter values for this field are HexoTimestamps (an integer) or ISO 8601 dates/datetimes, both
    # compared as ticks (trackpoint `time` and `timestamp`: the seed filters them both ways).
    ticks: bool = False

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "blank": self.blank,
            "default": self.default,
            "help_text": self.help_text or _default_help(self.type),
            "nullable": self.nullable,
            "readonly": self.readonly,
            "type": self.type,
            "unique": self.unique,
        }
        if self.type == "related":
            out["related_type"] = self.related or "to_one"
        return out


def _default_help(type_: str) -> str:
    # Tastypie's default help texts, as they appear in the reference schema.
    return {
        "integer": "Integer data. Ex: 2673",
        "float": "Floating point numeric data. Ex: 26.73",
        "string": 'Unicode string data. Ex: "Hello World"',
        "boolean": "Boolean data. Ex: True",
        "datetime": 'A date & time as a string. Ex: "2010-11-10T03:07:43"',
        "date": 'A date as a string. Ex: "2010-11-10"',
        "related": "A single related resource. Can be either a URI or set of nested resource data.",
        "list": 'A list of data. Ex: ["abc", 26.73, 8]',
        "dict": "A dictionary of data. Ex: {'price': 26.73, 'name': 'Daniel'}",
    }.get(type_, "")


@dataclass
class Query:
    """A parsed list request: filters, ordering and page."""

    filters: list[tuple[str, str, list[Any]]]  # (field, op, values)
    order_by: list[tuple[str, bool]]  # (field, descending)
    limit: int
    offset: int
    extra: dict[str, str]  # accepted non-filter params (e.g. include_metrics)


@dataclass
class ResourceDef:
    name: str
    fields: tuple[Field, ...]
    filtering: dict[str, Any] = field(default_factory=dict)  # field -> ops list, or 2 (ALL_WITH_RELATIONS)
    ordering: tuple[str, ...] = ()
    list_methods: tuple[str, ...] = ("get",)
    detail_methods: tuple[str, ...] = ("get",)
    # Query parameters that are accepted but are not row filters (handled by the resource itself).
    params: tuple[str, ...] = ()
    # How to parse filter values where the field says otherwise or there is no field: filter names rows
    # carry without a field of their own (`user` on activityattributevalue), or fields whose row value is
    # not their served text (range `duration` is "H:MM:SS" served, seconds filtered).
    filter_fields: tuple[Field, ...] = ()
    max_limit: int = LIST_MAX
    id_field: str = "id"

    @property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def list_endpoint(self) -> str:
        return f"/api/{self.name}/"

    def uri(self, obj_id: Any) -> str:
        return f"/api/{self.name}/{obj_id}/"

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "allowed_detail_http_methods": list(self.detail_methods),
            "allowed_list_http_methods": list(self.list_methods),
            "default_format": "application/json",
            "default_limit": 20,
            "fields": {f.name: f.schema() for f in self.fields},
        }
        if self.filtering:
            out["filtering"] = self.filtering
        if self.ordering:
            out["ordering"] = list(self.ordering)
        return out

    # -- request parsing ----------------------------------------------------------------------------

    def parse_query(self, args: Iterable[tuple[str, str]]) -> Query:
        filters: list[tuple[str, str, list[Any]]] = []
        order_by: list[tuple[str, bool]] = []
        extra: dict[str, str] = {}
        limit, offset = 20, 0
        fmap = {**self.field_map, **{f.name: f for f in self.filter_fields}}  # filter_fields parse first
        for key, raw in args:
            if key == "limit":
                limit = _parse_int(key, raw)
                if limit < 0:
                    raise ApiError(400, "Provided 'limit' must be a positive integer.")
                limit = self.max_limit if limit == 0 else min(limit, self.max_limit)
                continue
            if key == "offset":
                offset = _parse_int(key, raw)
                if offset < 0:
                    raise ApiError(400, "Provided 'offset' must be a positive integer.")
                continue
            if key == "order_by":
                for part in filter(None, raw.split(",")):
                    desc = part.startswith("-")
                    name = part.lstrip("-")
                    if name not in self.ordering:
                        raise ApiError(400, f"No matching '{name}' field for ordering on.")
                    order_by.append((name, desc))
                continue
            if key == "format":
                continue
            name, _, op = key.partition("__")
            op = op or "exact"
            if key in self.params or name in self.params:
                extra[key] = raw
                continue
            if name not in self.filtering:
                raise ApiError(400, f"The '{name}' field does not allow filtering.")
            allowed = self.filtering[name]
            if allowed != 2 and op not in allowed:  # 2 == Tastypie's ALL_WITH_RELATIONS
                raise ApiError(400, f"'{op}' is not an allowed filter on the '{name}' field.")
            if allowed == 2 and op not in _OPS:
                raise ApiError(400, f"'{op}' is not an allowed filter on the '{name}' field.")
            fdef = fmap.get(name)
            if fdef is None:  # a filter-only parameter the resource handles itself
                extra[key] = raw
                continue
            filters.append((name, op, _parse_values(fdef, op, raw)))
        return Query(filters, order_by, limit, offset, extra)

    # -- list evaluation ----------------------------------------------------------------------------

    def apply(self, rows: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
        for name, op, values in query.filters:
            test = _OPS[op]
            rows = [r for r in rows if test(_comparable(r.get(name)), values)]
        for name, desc in reversed(query.order_by):
            rows = sorted(rows, key=lambda r: _sort_key(r.get(name)), reverse=desc)
        return rows


def paginate(
    rows: list[Any], query: Query, path: str, args: Iterable[tuple[str, str]]
) -> tuple[list[Any], dict[str, Any]]:
    """Slice a filtered list and build Tastypie's `meta` (next/previous keep every other parameter)."""
    total = len(rows)
    page = rows[query.offset : query.offset + query.limit]
    kept = [(k, v) for k, v in args if k not in ("limit", "offset")]

    def link(offset: int) -> str:
        return f"{path}?{urlencode(kept + [('limit', query.limit), ('offset', offset)])}"

    nxt = link(query.offset + query.limit) if query.offset + query.limit < total else None
    prev = link(max(0, query.offset - query.limit)) if query.offset > 0 else None
    meta = {"limit": query.limit, "next": nxt, "offset": query.offset, "previous": prev, "total_count": total}
    return page, meta


# -- value parsing --------------------------------------------------------------------------------

_URI_ID = re.compile(r"^/api/(?:v1/)?[a-z_0-9]+/([^/]+)/?$")


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid value for '{name}': {raw!r} is not an integer.") from None


def parse_ticks(raw: str, name: str = "value") -> int:
    """A HexoTimestamp given as an integer or as an ISO 8601 date/datetime (naive = UTC) -> ticks."""
    raw = raw.strip()
    if raw.lstrip("-").isdigit():
        return int(raw)
    return round(parse_datetime(raw, name).timestamp() * 256)


def _parse_scalar(fdef: Field, raw: str) -> Any:
    raw = raw.strip()
    if fdef.ticks:
        return parse_ticks(raw, fdef.name)
    if fdef.type == "related":
        m = _URI_ID.match(raw)
        raw = m.group(1) if m else raw
        return int(raw) if raw.isdigit() else raw
    if fdef.type == "integer":
        return _parse_int(fdef.name, raw)
    if fdef.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise ApiError(400, f"Invalid value for '{fdef.name}': {raw!r}.") from None
    if fdef.type == "boolean":
        return raw.lower() in ("1", "true", "yes")
    if fdef.type == "date":
        return parse_datetime(raw, fdef.name).date() if len(raw) > 10 else _parse_date(raw, fdef.name)
    if fdef.type == "datetime":
        return parse_datetime(raw, fdef.name)
    return raw


def _parse_date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"Invalid date for '{name}': {raw!r}.") from None


def _parse_values(fdef: Field, op: str, raw: str) -> list[Any]:
    if op in ("in", "range"):
        values = [_parse_scalar(fdef, v) for v in raw.split(",") if v.strip()]
        if op == "range" and len(values) != 2:
            raise ApiError(400, f"The 'range' filter on '{fdef.name}' needs two comma-separated values.")
        return values
    if op == "isnull":
        return [raw.lower() in ("1", "true")]
    return [_parse_scalar(fdef, raw)]


def parse_datetime(raw: str, name: str = "value") -> datetime:
    """ISO 8601 date or datetime; naive values are UTC (as the API's `start_date` fields are)."""
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Invalid date/time for '{name}': {raw!r}.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return parse_datetime(value)
        except ApiError:
            return value
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    return (value is None, _comparable(value) if value is not None else 0)


def _safe(cmp: Callable[[Any, Any], bool]) -> Callable[[Any, list[Any]], bool]:
    def test(value: Any, values: list[Any]) -> bool:
        if value is None:
            return False
        try:
            return cmp(value, values[0])
        except TypeError:
            return False

    return test


_OPS: dict[str, Callable[[Any, list[Any]], bool]] = {
    "exact": lambda v, vals: v == vals[0] or (isinstance(v, str) and str(vals[0]) == v),
    "in": lambda v, vals: v in vals or (isinstance(v, str) and v in {str(x) for x in vals}),
    "gt": _safe(lambda v, x: v > x),
    "gte": _safe(lambda v, x: v >= x),
    "lt": _safe(lambda v, x: v < x),
    "lte": _safe(lambda v, x: v <= x),
    "range": lambda v, vals: v is not None and vals[0] <= v <= vals[1],
    "isnull": lambda v, vals: (v is None) == vals[0],
    "startswith": lambda v, vals: isinstance(v, str) and v.startswith(str(vals[0])),
}
