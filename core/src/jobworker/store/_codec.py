"""JSON text for stores that keep JSON (the SQLite store), reversible for any user data.

The store's own datetimes are written as Extended JSON ``{"$date": "<ISO 8601>"}``. So that a
user's data can never be mistaken for one of them, every key of user data that starts with ``$``
is written with one more ``$`` (``"$date"`` -> ``"$$date"``) and read back without it. After
encoding, a single-``$`` key only ever is the store's own marker; a ``{"$date": ...}`` the user
wrote comes back as the user's dict, and keys such as ``"$$x"`` round-trip too.

Text that cannot be decoded (invalid JSON or UTF-8, nested deeper than :data:`MAX_DEPTH`) raises
:class:`UndecodableError`; the store quarantines that one job. A single-key ``{"$date": x}``
whose ``x`` is not a date can only come from a file written before keys were escaped: it is
read as the user's dict it was.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

# CPython's C encoder, the one json.dumps uses (typeshed does not declare it)
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, overload

__all__ = ["MAX_DEPTH", "UndecodableError", "dumps", "dumps_plain", "from_ms", "loads", "to_ms"]

#: Deepest nesting of lists and objects the codec writes or reads (submits are limited lower).
MAX_DEPTH = 200


class UndecodableError(ValueError):
    """Stored text that is not a document this store could have written."""


def _plain(value: Any) -> Any:
    """Datetimes and enums as JSON values (the only non-JSON types a job document holds)."""
    if isinstance(value, datetime):
        return {"$date": value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in a job document")


def _escaped(value: Any, depth: int = 0) -> Any:
    """``value`` with ``$`` keys escaped and datetimes as markers (only when the text needs it)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return {
            (f"${k}" if isinstance(k, str) and k[:1] == "$" else k): _escaped(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_escaped(v, depth + 1) for v in value]
    if isinstance(value, datetime):
        return _plain(value)
    return value


#: ``json.dumps(value, default=_plain, separators=(",", ":"), ensure_ascii=False)`` without
#: building an encoder per call (most of the time of a small document). No circular-reference
#: markers: a cycle ends as the RecursionError of a too deep value.
_encode = (
    c_make_encoder(None, _plain, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None
)


def _compact(value: Any) -> str:
    if _encode is None:  # no C accelerator (not CPython)
        return json.dumps(value, default=_plain, separators=(",", ":"), ensure_ascii=False)
    return "".join(_encode(value, 0))


def dumps(value: Any) -> str:
    """Compact JSON; raises ``ValueError``/``TypeError`` for what cannot be stored."""
    try:
        text = _compact(value)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if '"$' in text:  # a datetime or a key starting with "$": escape the keys
        text = _compact(_escaped(value))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. undecodable file names): \u escapes
            return json.dumps(_escaped(value), default=_plain, separators=(",", ":"))
    return text


def dumps_plain(value: Any) -> str:
    """:func:`dumps` of a value of plain JSON only, which the caller has checked: exact
    ``dict`` (``str`` keys), ``list``, ``str`` (valid Unicode), ``int`` (64 bits), finite
    ``float``, ``bool``, ``None`` (e.g. parameters that
    :func:`jobworker.validation.check_json_parameters` accepted, in a document of such values).

    Written by msgspec, about 8 times as fast for a small document. The text differs from
    :func:`dumps`'s only in how a float is spelled (``1e16`` for ``1e+16``: the same number);
    what msgspec cannot write (a lone surrogate, a non-``str`` key, a huge integer) and any
    ``$`` key go to :func:`dumps`. A non-finite float must not come here: msgspec writes it as
    ``null``, :func:`dumps` as ``NaN``.
    """
    try:
        text: str = _plain_encoder()(value).decode()
    except (TypeError, ValueError, OverflowError):  # UnicodeEncodeError is a ValueError
        return dumps(value)
    if '"$' in text:
        return dumps(value)
    return text


@functools.cache
def _plain_encoder() -> Callable[[Any], bytes]:
    """msgspec's encoder, imported on first use (a worker never needs it; 10 ms to import)."""
    import msgspec

    encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode
    return encode


def _decode_markers(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get("$date"), str):
        try:
            when = datetime.fromisoformat(obj["$date"].replace("Z", "+00:00"))
        except ValueError:
            # Only a file written before keys were escaped holds this: the user's own dict.
            return obj
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if any(k[:2] == "$$" for k in obj):
        return {(k[1:] if k[:2] == "$$" else k): v for k, v in obj.items()}
    return obj


def loads(text: str | bytes | None) -> Any:
    """The value :func:`dumps` wrote; raises :class:`UndecodableError` for anything else."""
    if text is None:
        return None
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if '"$' not in text:
            value = json.loads(text)
        else:
            value = json.loads(text, object_hook=_decode_markers)
        if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(value):
            raise UndecodableError(f"nested deeper than {MAX_DEPTH} levels")
        return value
    except UndecodableError:
        raise
    except RecursionError:
        raise UndecodableError("nested too deeply to read") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise UndecodableError(f"not JSON: {exc}") from None


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests lists/objects deeper than :data:`MAX_DEPTH` (no recursion, so
    that nothing that reads a stored job later, e.g. a view, can overflow the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


@overload
def to_ms(value: datetime) -> int: ...
@overload
def to_ms(value: datetime | None) -> int | None: ...
def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    stamp = value.timestamp()
    return int(stamp * 1000 + (0.5 if stamp >= 0 else -0.5))


@overload
def from_ms(value: int) -> datetime: ...
@overload
def from_ms(value: int | None) -> datetime | None: ...
def from_ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return _EPOCH + timedelta(0, 0, 0, value)  # (days, seconds, us, ms): exact, 2.5x faster


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
