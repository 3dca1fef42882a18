"""Rows of the SQLite store's ``jobs`` table <-> jobs, robust to rows that cannot be read.

Queryable fields are columns (times as epoch milliseconds, ``progress``/``results``/``error`` as
JSON); the rest of a job is JSON in ``doc``. Every select of jobs ends with ``doc, rowid``
(:data:`SELECT`), so a row that cannot be decoded can still be quarantined by its ``rowid``
(see :mod:`.broken`): :func:`decode_job` raises for it, :func:`read_job` returns the stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...model import Job, LogEntry
from .._codec import from_ms, loads
from ..broken import broken_job, problem_of

__all__ = [
    "BadText",
    "JOB_COLS",
    "JSON_COLS",
    "SELECT",
    "TIME_COLS",
    "decode_job",
    "read_job",
    "row_value",
    "text_factory",
]

TIME_COLS = (
    "created_at",
    "updated_at",
    "available_at",
    "lease_expires_at",
    "heartbeat_at",
    "processing_started_at",
    "completed_at",
)
JSON_COLS = ("progress", "results", "error")
JOB_COLS = (
    "job_id",
    "job_type",
    "status",
    "priority",
    "batch_id",
    "attempts",
    "max_attempts",
    "lease_owner",
    "cancel_requested",
    "announce_pending",
    "idempotency_key",
    *TIME_COLS,
    *JSON_COLS,
)
SELECT = ", ".join((*JOB_COLS, "doc", "rowid"))
_DOC = len(JOB_COLS)
_ROWID = _DOC + 1


class BadText(str):
    """A text cell that is not valid UTF-8 (kept with surrogate escapes, never written back)."""


def text_factory(data: bytes) -> str:
    """The connection's text decoder: a row with invalid UTF-8 in one cell still reads."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return BadText(data.decode("utf-8", "surrogateescape"))


def row_value(row: Sequence[Any], column: str) -> Any:
    """One column of a :data:`SELECT` row (``rowid`` and ``doc`` included)."""
    if column == "rowid":
        return row[_ROWID]
    if column == "doc":
        return row[_DOC]
    return row[JOB_COLS.index(column)]


def decode_job(row: Sequence[Any], logs: list[LogEntry] | None = None) -> Job:
    """The job of a :data:`SELECT` row; raises (any exception) when the row cannot be read."""
    if BadText in map(type, row):
        name = next(n for n, v in zip((*JOB_COLS, "doc"), row, strict=False) if type(v) is BadText)
        raise ValueError(f"column {name} is not valid UTF-8")
    doc = loads(row[_DOC])
    if not isinstance(doc, dict):
        raise ValueError(f"doc is {type(doc).__name__}, not an object")
    for i, name, decode in _DECODERS:
        value = row[i]
        if value is not None and (decode is None or (value := decode(value)) is not None):
            doc[name] = value
    job = Job.from_dict(doc)
    if logs:
        job.logs = logs
    return job


#: (index in the row, column, how its cell is decoded: as is, epoch milliseconds, JSON)
_DECODERS: tuple[tuple[int, str, Callable[[Any], Any] | None], ...] = tuple(
    (i, name, from_ms if name in TIME_COLS else loads if name in JSON_COLS else None)
    for i, name in enumerate(JOB_COLS)
)


def read_job(row: Sequence[Any], logs: list[LogEntry] | None = None) -> Job:
    """The job of a :data:`SELECT` row, or its broken stand-in."""
    try:
        return decode_job(row, logs)
    except Exception as exc:  # whatever is wrong with the row, it is one job's problem
        return broken_job(_plain_fields(row), problem_of(exc))


def _plain_fields(row: Sequence[Any]) -> dict[str, Any]:
    fields = dict(zip(JOB_COLS, row, strict=False))
    for col in ("created_at", "updated_at", "completed_at"):
        try:
            fields[col] = from_ms(fields[col]) if isinstance(fields[col], int) else None
        except (ValueError, OverflowError, OSError):
            fields[col] = None
    return fields
