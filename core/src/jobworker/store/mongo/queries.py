"""Queries of the MongoDB store: claims, expired leases, listings, job types (legacy
spellings), and documents from Extended JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bson import json_util

from ...model import LEGACY_DEFAULT_TYPE, job_type_of

__all__ = [
    "type_values",
    "type_match",
    "from_extended_json",
    "claim_query",
    "as_int",
    "expired_query",
    "listing_query",
]

#: Stored ``job_type`` values of the legacy default type (empty or missing, see ``job_type_of``).
SESSION_ALIASES: tuple[Any, ...] = (LEGACY_DEFAULT_TYPE, "", None)

_JSON = json_util.JSONOptions(tz_aware=True, json_mode=json_util.JSONMode.CANONICAL)


def type_values(types: Iterable[str]) -> list[Any]:
    """Stored ``job_type`` values that mean these types (the legacy default includes
    ``""``/missing)."""
    out: list[Any] = []
    for t in types:
        for value in SESSION_ALIASES if job_type_of(t) == LEGACY_DEFAULT_TYPE else (t,):
            if value not in out:
                out.append(value)
    return out


def type_match(job_type: str) -> Any:
    """A filter value for one job type (``{"job_type": type_match(t)}``)."""
    values = type_values([job_type])
    return values[0] if len(values) == 1 else {"$in": values}


def from_extended_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A document with Extended JSON values (``{"$date": ...}``...) turned into BSON types;
    values that already are Python objects (datetimes, ...) are kept."""
    text = json_util.dumps(doc, json_options=_JSON)
    return dict(json_util.loads(text, json_options=_JSON))


def claim_query(
    allowed: set[str] | None, slots: Mapping[str, int], now: datetime
) -> dict[str, Any] | None:
    """The claim filter for the types that may still be taken, or ``None`` if none may.

    ``allowed`` ``None`` means any type (the caller turns "any type but these full ones" into
    the list of open types: a ``$nin`` is a range no index bound can use). A missing
    ``available_at`` (legacy document) counts as due: ``$not: {$gt: now}`` matches it as well
    as every date up to ``now``.
    """
    query: dict[str, Any] = {"status": "pending", "available_at": {"$not": {"$gt": now}}}
    if allowed is not None:
        open_types = sorted(t for t in allowed if slots.get(t, 1) > 0)
        if not open_types:
            return None
        query["job_type"] = {"$in": type_values(open_types)}
    return query


def as_int(value: object, default: int) -> int:
    """A stored counter (``attempts``...) as an int; ``default`` when it is not a number."""
    if isinstance(value, (int, float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            pass
    return default


def expired_query(now: datetime, orphaned_before: datetime) -> dict[str, Any]:
    """Processing jobs whose lease expired. A job without a (date) lease counts as expired: at
    once when jobworker claimed it (``lease_owner`` set), once its last update is older than
    ``orphaned_before`` when it has no owner either (left by the old system, which may still
    be running it)."""
    no_lease = {"$not": {"$type": "date"}}
    return {
        "status": "processing",
        "$or": [
            {"lease_expires_at": {"$lt": now}},
            {"lease_expires_at": no_lease, "lease_owner": {"$type": "string"}},
            {
                "lease_expires_at": no_lease,
                "lease_owner": {"$not": {"$type": "string"}},
                "updated_at": {"$not": {"$gte": orphaned_before}},
            },
        ],
    }


def listing_query(
    id_field: str, owner: str | None, after: tuple[datetime, str] | None
) -> dict[str, Any]:
    """The filter shared by the listings: the owner (extra field ``owner_key``) and the keyset
    cursor over ``(created_at, id)`` descending."""
    query: dict[str, Any] = {}
    if owner is not None:
        query["owner_key"] = owner
    if after is not None:
        when, last = after
        query["$or"] = [
            {"created_at": {"$lt": when}},
            {"created_at": when, id_field: {"$lt": last}},
        ]
    return query
