"""The SQLite store's translation of :mod:`jobworker.lifecycle`: changes as ``UPDATE`` clauses,
batch counter moves as one ``UPDATE`` per batch inside the caller's transaction."""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ...lifecycle import BATCH_FINISHED, BATCH_REOPENED, Change, batch_verdict, counter_deltas
from ...model import Batch, JobError, JobProgress
from .._codec import UndecodableError, dumps, from_ms, loads, to_ms
from ..base import Transition
from ..broken import problem_of, read_batch

__all__ = ["BATCH_COLS", "attach_batches", "batch_from_row", "change_sql", "move_counters"]

BATCH_COLS = (
    "batch_id",
    "status",
    "created_at",
    "updated_at",
    "completed_at",
    "total_jobs",
    "completed_jobs",
    "failed_jobs",
    "pending_jobs",
    "processing_jobs",
    "announce_pending",
)
_FLAGS = ("announce_pending", "cancel_requested")


_PLAIN = (str, int, float, type(None))


def _column_value(value: Any) -> Any:
    """A model value as the column holds it."""
    kind = type(value)
    if kind in _PLAIN:  # most values: as they are, without the checks below
        return value
    if kind is bool:
        return int(value)
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, enum.Enum):
        return value.value
    if kind is JobProgress:
        return dumps({"step": value.step, "percent": value.percent, "message": value.message})
    if kind is JobError:
        return dumps({"code": value.code, "message": value.message, "details": value.details})
    if isinstance(value, Mapping):
        return dumps(dict(value))
    return value


def change_sql(change: Change) -> tuple[str, tuple[Any, ...]]:
    """The ``SET`` clause writing ``change`` and its arguments; raises ``TypeError`` /
    ``ValueError`` for values no store can keep (the caller fails that job instead)."""
    parts: list[str] = []
    args: list[Any] = []
    for name, value in change.sets.items():
        parts.append(f"{name} = ?")
        args.append(_column_value(value))
    for name in change.clears:
        parts.append(f"{name} = {0 if name in _FLAGS else 'NULL'}")
    if change.attempts_delta:
        parts.append("attempts = max(attempts + ?, 0)")
        args.append(change.attempts_delta)
    if change.keep_percent is not None:
        parts.append(
            "progress = json_object('step', ?, 'percent', "
            "COALESCE(json_extract(progress, '$.percent'), 0), 'message', ?)"
        )
        args += [change.keep_percent.step, change.keep_percent.message]
    return ", ".join(parts), tuple(args)


def batch_from_row(row: Sequence[Any]) -> Batch:
    """The batch of a row, or a stand-in from its columns when its ``doc`` cannot be read
    (see :func:`.broken.read_batch`): a broken batch never stops its jobs' transitions."""
    data = dict(zip(BATCH_COLS, row, strict=False))
    for col in ("created_at", "updated_at", "completed_at"):
        try:
            data[col] = from_ms(data[col])
        except (TypeError, ValueError, OverflowError, OSError):
            data[col] = None
    problem = None
    try:
        doc = loads(row[-1])
        if not isinstance(doc, dict):
            raise UndecodableError(f"doc is {type(doc).__name__}, not an object")
    except UndecodableError as exc:
        doc, problem = {}, problem_of(exc)
    doc.update({k: v for k, v in data.items() if v is not None})
    return read_batch(doc, problem)


def move_counters(
    db: sqlite3.Connection, moves: Sequence[tuple[str | None, str, str]], now_ms: int
) -> list[Batch]:
    """Apply job moves ``(batch, from status, to status)`` to their batches' counters (one
    ``UPDATE`` per batch), finishing or reopening them as :func:`~jobworker.lifecycle.
    batch_verdict` says; return the batches just finished."""
    finished = []
    for batch_id, delta in counter_deltas(moves).items():
        sets = ", ".join(f"{name} = max(0, {name} + ?)" for name in delta)
        row = db.execute(
            f"UPDATE batches SET {sets}, updated_at = ? WHERE batch_id = ? "
            f"RETURNING status, completed_jobs, failed_jobs, total_jobs",
            (*delta.values(), now_ms, batch_id),
        ).fetchone()
        verdict = None if row is None else batch_verdict(delta, *row)
        if verdict == "finish":
            values = {**BATCH_FINISHED, "completed_at": now_ms}
            done = db.execute(
                f"UPDATE batches SET {', '.join(f'{k} = ?' for k in values)} "
                f"WHERE batch_id = ? RETURNING {', '.join(BATCH_COLS)}, doc",
                (*(_column_value(v) for v in values.values()), batch_id),
            ).fetchone()
            finished.append(batch_from_row(done))
        elif verdict == "reopen":
            values = {**BATCH_REOPENED, "completed_at": None, "announce_pending": 0}
            db.execute(
                f"UPDATE batches SET {', '.join(f'{k} = ?' for k in values)} WHERE batch_id = ?",
                (*values.values(), batch_id),
            )
    return finished


def attach_batches(
    done: list[Transition], batch_of: list[str | None], finished: list[Batch]
) -> None:
    """Report each finished batch once, on the last transition of that batch."""
    by_id = {b.batch_id: b for b in finished}
    for t, batch_id in reversed(list(zip(done, batch_of, strict=True))):
        if batch_id in by_id and t.status.terminal:
            t.batch_finished = by_id.pop(batch_id)
