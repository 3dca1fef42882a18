"""JSON with datetimes as Extended JSON ``{"$date": "..."}``, for stores that keep JSON text."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, overload

__all__ = ["dumps", "from_ms", "loads", "to_ms"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in a job document")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj and isinstance(obj["$date"], str):
        return datetime.fromisoformat(obj["$date"].replace("Z", "+00:00"))
    return obj


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_hook)


@overload
def to_ms(value: datetime) -> int: ...
@overload
def to_ms(value: datetime | None) -> int | None: ...
def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int(value.timestamp() * 1000 + (0.5 if value.timestamp() >= 0 else -0.5))


@overload
def from_ms(value: int) -> datetime: ...
@overload
def from_ms(value: int | None) -> datetime | None: ...
def from_ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, timezone.utc).replace(
        microsecond=(value % 1000) * 1000
    )
