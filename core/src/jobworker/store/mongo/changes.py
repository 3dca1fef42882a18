"""The MongoDB store's translation of :mod:`jobworker.lifecycle`: a change as one update
document (``$set``/``$unset``/``$inc``), or as an update pipeline when it keeps the stored
percent (a value computed from the document itself).

Job documents keep the legacy shape of ``docs/legacy-schema.md``: the store never replaces a
whole document after insert, it only sets/unsets the fields a transition changes, so keys it does
not know (legacy ``started_at``, ``batch_id: "undefined"``, ...) stay untouched. Cleared fields
(lease, error, ``announce_pending`` ...) are unset, as the legacy writers only write optional
fields when they have a value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ...lifecycle import Change
from ...model import JobError, JobProgress
from ..broken import storable_text
from .keys import escape

__all__ = ["change_update", "error_doc", "progress_doc"]


def progress_doc(p: JobProgress | None) -> dict[str, Any] | None:
    if p is None:
        return None
    message = None if p.message is None else storable_text(str(p.message))
    return {"step": storable_text(str(p.step)), "percent": p.percent, "message": message}


def error_doc(e: JobError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"code": e.code, "message": storable_text(str(e.message)), "details": escape(e.details)}


def _field_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, JobProgress):
        return progress_doc(value)
    if isinstance(value, JobError):
        return error_doc(value)
    return value


def change_update(
    change: Change,
    results: Mapping[str, Any] | None = None,
    *,
    log: Mapping[str, Any] | None = None,
    log_cap: int = 1000,
) -> dict[str, Any] | list[dict[str, Any]]:
    """The update writing ``change``. ``results`` is the stored (escaped, possibly spilled)
    results sub-document when the change sets results; ``log``, a log entry document appended
    in the same write (the newest ``log_cap`` kept, as ``$push`` with ``$slice``)."""
    sets: dict[str, Any] = {}
    unset = [name for name in change.clears]
    if "lease_owner" in unset:
        unset.append("claim_token")  # stamped by a group claim (.claims), gone with the lease
    for name, value in change.sets.items():
        if name == "announce_pending" and value is False:
            unset.append(name)  # the legacy shape: only written while true
        elif name == "results":
            sets[name] = dict(results or {})
        else:
            sets[name] = _field_value(value)
    if change.keep_percent is None and log is None:
        update: dict[str, Any] = {"$set": sets}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        if change.attempts_delta:
            # A claimed job always counts its attempt (the claim's $inc), so never below 0.
            update["$inc"] = {"attempts": change.attempts_delta}
        return update
    # Keeping the stored percent (or appending a log line) needs the document's own values:
    # an update pipeline, where every plain value is a $literal (a string starting with "$"
    # is data, not a field path).
    stage = {name: {"$literal": value} for name, value in sets.items()}
    if change.keep_percent is not None:
        stage["progress"] = {
            "step": {"$literal": change.keep_percent.step},
            "percent": {"$ifNull": ["$progress.percent", 0]},
            "message": {"$literal": _text(change.keep_percent.message)},
        }
    if log is not None:
        logs = {"$concatArrays": [{"$ifNull": ["$logs", []]}, [{"$literal": dict(log)}]]}
        stage["logs"] = {"$slice": [logs, -log_cap]} if log_cap > 0 else {"$literal": []}
    if change.attempts_delta:
        stage["attempts"] = {
            "$max": [0, {"$add": [{"$ifNull": ["$attempts", 0]}, change.attempts_delta]}]
        }
    pipeline: list[dict[str, Any]] = [{"$set": stage}]
    if unset:
        pipeline.append({"$unset": unset})
    return pipeline


def _text(value: str | None) -> str | None:
    return None if value is None else storable_text(str(value))
