"""Stored jobs that cannot be read: the stand-in shown for them, and the quarantine error.

A row or document a store cannot turn into a :class:`~jobworker.model.Job` (invalid JSON or
UTF-8, an out-of-range date, a field of the wrong type, ...) never stops anything else:

* reads (``get``, ``list``, sweeps) return :func:`broken_job`, a stand-in built from whatever
  plain fields could be read, whose error is ``INVALID_DOCUMENT`` and whose ``unknown["broken"]``
  says what is wrong, so ``list``/``status``/``watch`` show it as broken;
* a claim that takes such a job quarantines it instead of running it: the store fails it with
  :func:`quarantine_error` (not retried) where it can still write it, else skips it with one log
  line.

A stand-in is never written back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import errors
from ..model import Batch, Job, JobError, JobStatus
from .base import Outcome
from .sizes import TOO_LARGE_CODES

__all__ = [
    "BROKEN_KEY",
    "broken_job",
    "read_batch",
    "problem_of",
    "quarantine_error",
    "storable_text",
    "store_log",
    "unstorable",
]

if TYPE_CHECKING:
    import logging


def store_log() -> logging.Logger:
    """The stores' logger, ``jobworker.store``: logging is imported on the first (rare) error
    line, not by every ``jobworker submit``."""
    import logging

    return logging.getLogger("jobworker.store")


#: ``Job.unknown`` key of a stand-in: what is wrong with the stored job.
BROKEN_KEY = "broken"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def problem_of(exc: BaseException) -> str:
    """A one-line description of why a stored job could not be read."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, RecursionError):
        text = "nested too deeply"
    return f"{type(exc).__name__}: {text}"[:300]


def quarantine_error(problem: str) -> JobError:
    return JobError(
        errors.INVALID_DOCUMENT,
        f"the stored job cannot be read, so it was not run: {problem}",
        {"problem": problem},
    )


def unstorable(out: Outcome, exc: BaseException) -> Outcome:
    """The outcome to write instead of a completed one whose results cannot be stored: the
    job fails with ``INVALID_DOCUMENT`` (not retried; the same results would fail again)."""
    problem = problem_of(exc)
    store_log().error("job %s: what its attempt returned cannot be stored: %s", out.job_id, problem)
    # pymongo's DocumentTooLarge (client side) or the server's codes for a document over 16 MiB
    too_large = type(exc).__name__ == "DocumentTooLarge" or getattr(exc, "code", None) in (
        TOO_LARGE_CODES
    )
    return Outcome(
        out.job_id,
        out.worker_id,
        "failed",
        error=JobError(
            errors.DOCUMENT_TOO_LARGE if too_large else errors.INVALID_DOCUMENT,
            f"what the attempt returned cannot be stored: {problem}",
            {"problem": problem},
        ),
        progress=out.progress,
        announce=out.announce,
    )


def storable_text(text: str) -> str:
    """``text`` as valid UTF-8 (lone surrogates, e.g. from undecodable file names, escaped)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value: object, default: str | None) -> str | None:
    return storable_text(value) if isinstance(value, str) else default


def broken_job(fields: Mapping[str, Any], problem: str) -> Job:
    """A stand-in for a stored job that cannot be read; ``fields`` are its raw top-level values
    (datetimes already decoded where the store could)."""
    try:
        status = JobStatus(fields.get("status"))
    except ValueError:
        status = JobStatus.FAILED
    times = {
        key: value if isinstance(value, datetime) and value.tzinfo else None
        for key in ("created_at", "updated_at", "completed_at")
        for value in [fields.get(key)]
    }
    created = times["created_at"] or _EPOCH
    return Job(
        _text(fields.get("job_type"), None) or "?",
        job_id=_text(fields.get("job_id"), None) or "?",
        status=status,
        created_at=created,
        updated_at=times["updated_at"] or created,
        completed_at=times["completed_at"],
        batch_id=_text(fields.get("batch_id"), None),
        error=quarantine_error(problem),
        unknown={BROKEN_KEY: problem},
    )


def read_batch(doc: Mapping[str, Any], problem: str | None = None) -> Batch:
    """The batch of a stored document or, when it cannot be read (or ``problem`` says why
    not), a stand-in built from its id and counters, ``unknown["broken"]`` saying what is
    wrong: a broken batch never stops the transitions of its jobs."""
    if problem is None:
        try:
            return Batch.from_dict(doc)
        except Exception as exc:
            problem = problem_of(exc)

    def count(key: str) -> int:
        value = doc.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def when(key: str) -> datetime | None:
        value = doc.get(key)
        return value if isinstance(value, datetime) and value.tzinfo else None

    status = doc.get("status")
    created = when("created_at") or _EPOCH
    return Batch(
        batch_id=_text(doc.get("batch_id"), None) or "?",
        status=status if isinstance(status, str) else "processing",
        created_at=created,
        updated_at=when("updated_at") or created,
        completed_at=when("completed_at"),
        total_jobs=count("total_jobs"),
        completed_jobs=count("completed_jobs"),
        failed_jobs=count("failed_jobs"),
        pending_jobs=count("pending_jobs"),
        processing_jobs=count("processing_jobs"),
        unknown={BROKEN_KEY: problem},
    )
