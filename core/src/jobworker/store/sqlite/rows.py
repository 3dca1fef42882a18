"""Rows of the SQLite store's ``jobs`` table <-> jobs, robust to rows that cannot be read.

Queryable fields are columns (times as epoch milliseconds, ``progress``/``results``/``error`` as
JSON); the rest of a job is JSON in ``doc``. Every select of jobs ends with ``doc, rowid``
(:data:`SELECT`), so a row that cannot be decoded can still be quarantined by its ``rowid``
(see :mod:`.broken`): :func:`decode_job` raises for it, :func:`read_job` returns the stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...model import AccessControl, Job, JobParameters, JobProgress, JobStatus, LogEntry
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
    job = _plain_job(row, doc)
    if job is None:
        job = _general_job(row, doc)
    if logs:
        job.logs = logs
    return job


def _general_job(row: Sequence[Any], doc: Any) -> Job:
    """:func:`decode_job` for any row: its columns put into its document, read as a whole."""
    if not isinstance(doc, dict):
        raise ValueError(f"doc is {type(doc).__name__}, not an object")
    for i, name, decode in _DECODERS:
        value = row[i]
        if value is not None and (decode is None or (value := decode(value)) is not None):
            doc[name] = value
    return Job.from_dict(doc)


#: The document keys of a job as submits write it (anything else: the general reading).
_PLAIN_DOC = frozenset(
    ("parameters", "archived", "access_control", "job_name", "user_id", "timeout")
)
_ACCESS_KEYS = ("visibility", "read_access", "write_access", "admin_access")
_STATUSES = {status.value: status for status in JobStatus}


def _plain_job(row: Sequence[Any], doc: Any) -> Job | None:
    """The job of a row whose every value already has the type its field wants (as the rows
    of jobs that submits made and workers claimed have), built field by field; ``None`` for
    any other row, which :func:`_general_job` reads. On a claim's path: about half the cost of
    the general reading. ``tests/test_sqlite_rows_plain.py`` checks that the two agree."""
    (job_id, job_type, status, priority, batch_id, attempts, max_attempts, lease_owner) = row[:8]
    (cancel, announce, key, created, updated, available, lease_expires, heartbeat) = row[8:16]
    (started, completed, progress, results, error) = row[16:21]
    if (
        type(doc) is not dict
        or not _PLAIN_DOC.issuperset(doc)
        or results is not None
        or error is not None
        or type(job_id) is not str
        or type(job_type) is not str
        or not job_type
        or status not in _STATUSES
        or not all(type(v) is int for v in (priority, attempts, max_attempts, cancel, announce))
        or not all(type(v) is int for v in (created, updated))
        or not all(v is None or type(v) is int for v in row[13:18])
        or not all(v is None or type(v) is str for v in (lease_owner, key, progress))
        or not (batch_id is None or (type(batch_id) is str and batch_id not in ("", "undefined")))
    ):
        return None
    params, access = doc.get("parameters", {}), doc.get("access_control")
    name, user, timeout = doc.get("job_name"), doc.get("user_id"), doc.get("timeout")
    if (
        type(params) is not dict
        or type(access) is not dict
        or tuple(access) != _ACCESS_KEYS
        or type(access["visibility"]) is not str
        or not all(_str_list(access[k]) for k in _ACCESS_KEYS[1:])
        or not (name is None or type(name) is str)
        or not (user is None or type(user) is str)
        or not (timeout is None or type(timeout) in (int, float))
        or type(doc.get("archived", False)) is not bool
    ):
        return None
    step = None
    if progress is not None:
        value = loads(progress)
        if type(value) is not dict:
            return None
        step = JobProgress.from_dict(value)
    return Job(
        job_type,
        JobParameters.from_dict(params, job_type=job_type),
        job_id,
        name,
        _STATUSES[status],
        from_ms(created),
        from_ms(updated),
        None if started is None else from_ms(started),
        None if completed is None else from_ms(completed),
        doc.get("archived", False),
        user,
        AccessControl(
            access["visibility"],
            list(access["read_access"]),
            list(access["write_access"]),
            list(access["admin_access"]),
        ),
        step,
        None,
        None,
        batch_id,
        [],
        attempts,
        max_attempts,
        priority,
        None if available is None else from_ms(available),
        None if timeout is None else float(timeout),
        lease_owner,
        None if lease_expires is None else from_ms(lease_expires),
        None if heartbeat is None else from_ms(heartbeat),
        bool(cancel),
        key,
        bool(announce),
        {},
    )


def _str_list(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


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
