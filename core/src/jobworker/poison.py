"""Finding the job that makes a batched round trip fail (the worker's poison isolation).

The worker writes many jobs' logs, progress and outcomes in one round trip. The stores already
turn what they can recognise as one job's problem into that job's failure (``INVALID_DOCUMENT``,
see :mod:`jobworker.store.broken`); this is the safety net for anything else. When a round trip
fails, the worker writes each job's part alone (:func:`parts_by_job`):

* a part that fails with a data error (:func:`is_data_error`) is that job's poison: its outcome
  becomes an ``INVALID_DOCUMENT`` failure (not retried) and its logs and progress are dropped,
  with one log line, while every other job's part is committed;
* a part that fails otherwise meets a failing store (locked, unreachable, read-only): it is kept
  for the next round trip, after a backoff. No job is blamed for the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from .model import JobProgress, LogEntry
from .store import Outcome

__all__ = [
    "BURST_STORE_FAILURES",
    "Part",
    "is_data_error",
    "is_store_failure",
    "one_line",
    "parts_by_job",
]

#: Failed round trips in a row after which ``jobworker run --burst`` gives up and exits 1
#: (a long-running worker keeps backing off, up to 30 s between tries, saying why).
BURST_STORE_FAILURES = 3


@attrs.define
class Part:
    """One job's share of a round trip."""

    job_id: str
    outcomes: list[Outcome] = attrs.Factory(list)
    logs: list[tuple[str, LogEntry]] = attrs.Factory(list)
    progress: dict[str, JobProgress] = attrs.Factory(dict)


def parts_by_job(
    outcomes: Sequence[Outcome],
    logs: Sequence[tuple[str, LogEntry]],
    progress: Mapping[str, JobProgress],
) -> list[Part]:
    """The round trip's writes grouped by job, in a stable order."""
    parts: dict[str, Part] = {}
    for out in outcomes:
        parts.setdefault(out.job_id, Part(out.job_id)).outcomes.append(out)
    for job_id, entry in logs:
        parts.setdefault(job_id, Part(job_id)).logs.append((job_id, entry))
    for job_id, p in progress.items():
        parts.setdefault(job_id, Part(job_id)).progress[job_id] = p
    return list(parts.values())


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` says "this data cannot be stored" rather than "the store is failing"."""
    if isinstance(exc, (ValueError, TypeError, OverflowError, RecursionError)):
        return True
    return type(exc).__module__.split(".")[0] == "bson"  # InvalidDocument, InvalidStringData


def is_store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot be used now (read-only, unreachable, not a
    database), as opposed to a bug."""
    from .store import StoreError

    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, (StoreError, OSError)) or module in ("sqlite3", "pymongo")


def one_line(exc: BaseException) -> str:
    """``exc`` as one short line for a log."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]
