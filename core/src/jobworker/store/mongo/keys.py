"""Reversible escaping of user data keys that MongoDB treats specially (MongoDB store).

Keys starting with ``$`` are operators to MongoDB (and refused by servers before 5.0), keys with
``.`` are paths, and a key cannot hold a NUL byte. So that any JSON object a user submits (or a
handler returns) round-trips exactly, such keys are stored percent-escaped behind a ``%``
prefix: ``"$date"`` -> ``"%%24date"``, ``"a.b"`` -> ``"%a%2Eb"``. Keys starting with ``%`` are
escaped too, so reading is the exact inverse: a stored key that starts with ``%`` is unescaped,
every other key is kept. Keys without ``$``/``.``/NUL/leading ``%`` (nearly all) are stored as
they are, so old readers see the legacy shape unchanged.

Escaped: the values of ``parameters``, ``results``, ``error.details`` and of top-level keys the
model does not know. Everything else in a job document is written by jobworker itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ...model import Job

__all__ = ["escape", "escape_user_data", "unescape", "unescape_user_data"]

_ESCAPES = {"%": "%25", "$": "%24", ".": "%2E", "\0": "%00"}
_UNESCAPE = re.compile(r"%(25|24|2E|00)")
_CHARS = {"25": "%", "24": "$", "2E": ".", "00": "\0"}


def _escape_key(key: str) -> str:
    if not key or (key[0] not in "$%" and "." not in key and "\0" not in key):
        return key
    return "%" + "".join(_ESCAPES.get(c, c) for c in key)


def _unescape_key(key: str) -> str:
    if not key.startswith("%"):
        return key
    return _UNESCAPE.sub(lambda m: _CHARS[m[1]], key[1:])


def _walk(value: Any, fix: Any) -> Any:
    """``value`` with every mapping key passed through ``fix`` (iterative: no recursion)."""
    if not isinstance(value, (Mapping, list, tuple)):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, Mapping):
            out: dict[Any, Any] = {}
            parent[slot] = out
            for k, v in item.items():
                key = fix(k) if isinstance(k, str) else k
                out[key] = None
                stack.append((v, out, key))
        elif isinstance(item, (list, tuple)):
            seq: list[Any] = [None] * len(item)
            parent[slot] = seq
            stack.extend((v, seq, i) for i, v in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def escape(value: Any) -> Any:
    """``value`` with keys MongoDB cannot store escaped (see the module docstring)."""
    return _walk(value, _escape_key)


def unescape(value: Any) -> Any:
    """The inverse of :func:`escape`."""
    return _walk(value, _unescape_key)


# The job document's own fields; every other top-level key is user data (legacy or imported).
_OWN = ({f.name for f in attrs.fields(Job)} - {"unknown"}) | {"_id"}
_USER_FIELDS = ("parameters", "results")


def escape_user_data(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A job document (``Job.to_dict()``) with its user data escaped."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _USER_FIELDS or key not in _OWN:
            out[_escape_key(key)] = escape(value)
        elif key == "error" and isinstance(value, Mapping) and "details" in value:
            out[key] = {**value, "details": escape(value["details"])}
        else:
            out[key] = value
    return out


def unescape_user_data(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`escape_user_data` on a stored document (values of wrong types are
    kept as they are, for the model to refuse)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _USER_FIELDS or key not in _OWN:
            out[_unescape_key(key)] = unescape(value)
        elif key == "error" and isinstance(value, Mapping) and "details" in value:
            out[key] = {**value, "details": unescape(value["details"])}
        else:
            out[key] = value
    return out
