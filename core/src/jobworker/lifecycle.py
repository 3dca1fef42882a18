"""The lifecycle rules of jobs and batches, in one place: pure functions, no I/O.

Every store applies the same rules; it only translates the decisions made here into its own
writes (SQL ``UPDATE`` clauses, MongoDB update documents), keeping its atomicity (a job's
transition and its batch's counters in one transaction on SQLite, one conditional write each on
MongoDB). :func:`apply` is the reference: the same :class:`Change` applied to a :class:`Job` in
memory, which the property tests (``tests/test_lifecycle_rules.py``) check the rules against.

The rules:

* **Attempts.** A claim starts attempt ``attempts + 1`` (:func:`claimed`). An attempt handed
  back at shutdown is not charged (``release``: ``attempts - 1``, never below 0). A retry by
  hand keeps counting: ``max_attempts`` becomes ``attempts + budget`` (:func:`retried_by_hand`).
* **Retry or fail.** A retryable failure of attempt ``n`` is retried while ``n < max_attempts``,
  after :meth:`Backoff.delay` (``base * 2**(n-1)``, equal jitter: between half and all of it);
  otherwise the job fails (:func:`after_failure`). A lease that expired (its worker died) is such
  a retryable failure with ``WORKER_LOST`` (:func:`lease_expired`), with the same backoff.
* **Outcomes** (:func:`outcome_change`): ``completed`` stores the results and progress 100;
  ``failed`` stores the error and keeps the attempt's last percent (the reported one, else the
  stored one); ``retry`` goes back to pending keeping the error; ``release`` goes back to
  pending. Every terminal transition sets ``completed_at`` and ``announce_pending``; every
  transition out of processing drops the lease.
* **Cancellation.** A pending job fails at once with ``CANCELLED`` keeping its last percent
  (:func:`cancelled_pending`); a processing one gets ``cancel_requested``
  (:func:`cancel_requested`) and its worker fails it the same way.
* **Batches.** Each job transition moves one of the batch's four counters to another
  (:func:`counter_deltas`, :data:`COUNTER`); a batch whose ``completed + failed`` reaches
  ``total`` finishes (once), one that falls below it again (a retry, new jobs) reopens
  (:func:`batch_verdict`, :data:`BATCH_FINISHED`, :data:`BATCH_REOPENED`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from . import errors
from .model import Job, JobError, JobProgress, JobStatus

__all__ = [
    "BATCH_FINISHED",
    "BATCH_REOPENED",
    "COUNTER",
    "Backoff",
    "Change",
    "KeepPercent",
    "Outcome",
    "after_failure",
    "apply",
    "batch_grown",
    "batch_verdict",
    "stored_count",
    "cancel_requested",
    "cancelled_pending",
    "claimed",
    "counter_deltas",
    "failed_pending",
    "lease_expired",
    "outcome_change",
    "quarantined",
    "retried_by_hand",
    "worker_lost",
]

#: Which batch counter holds a job in each status.
COUNTER = {
    "pending": "pending_jobs",
    "processing": "processing_jobs",
    "completed": "completed_jobs",
    "failed": "failed_jobs",
}

#: The fields every transition out of ``processing`` clears: the attempt's lease.
LEASE = ("lease_owner", "lease_expires_at")


@attrs.define
class Outcome:
    """How an attempt ended; applied by :meth:`jobworker.store.Store.finish`.

    ``kind``:
      * ``completed``: results stored, status completed.
      * ``failed``: status failed with ``error``.
      * ``retry``: back to pending with ``error`` kept and ``available_at`` set.
      * ``release``: back to pending, the attempt not charged (graceful shutdown).
    Applied only while ``worker_id`` still holds the job's lease; otherwise ignored (the job was
    recovered or cancelled meanwhile) and reported as not applied.

    ``announce``: ``False`` writes an end as already announced (``announce_pending`` not set),
    for an end that nothing would react to (no hook observes it, no webhook, no batch): the
    worker then needs no second write to mark it.
    """

    job_id: str
    worker_id: str
    kind: Literal["completed", "failed", "retry", "release"]
    results: Mapping[str, Any] | None = None
    error: JobError | None = None
    available_at: datetime | None = None
    progress: JobProgress | None = None
    announce: bool = True


@attrs.frozen
class KeepPercent:
    """Progress becomes ``(step, the stored percent or 0, message)``: a failure keeps the
    last percent its job reached."""

    step: str
    message: str | None


@attrs.frozen
class Change:
    """How one transition changes a stored job: what a store writes, in one atomic write.

    ``sets``: fields and their new values, as the model holds them (``status`` a
    :class:`JobStatus`, ``error`` a :class:`JobError`, ``progress`` a :class:`JobProgress`,
    times as datetimes, ``results`` a mapping); ``clears``: fields emptied (``NULL`` /
    ``$unset``; flags become false); ``attempts_delta`` is added to ``attempts`` (never below
    0); ``keep_percent``: progress as :class:`KeepPercent` says, from the stored percent.
    ``status`` is the status afterwards, ``source`` the status the transition starts from.
    """

    source: JobStatus
    status: JobStatus
    sets: Mapping[str, Any]
    clears: tuple[str, ...] = ()
    attempts_delta: int = 0
    keep_percent: KeepPercent | None = None


@attrs.frozen
class Backoff:
    """Retry delays: ``base`` seconds (or the job type's own, from its handler) times
    ``2**(attempt-1)``, with equal jitter (a random point in the upper half), so that jobs
    failing together do not come back together."""

    base: float = 2.0
    by_type: Mapping[str, float] = attrs.field(factory=dict)

    def delay(
        self, job_type: str | None, attempts: int, rng: Callable[[], float] = random.random
    ) -> float:
        """Seconds before attempt ``attempts + 1`` of a job of ``job_type``."""
        base = self.by_type.get(job_type, self.base) if job_type is not None else self.base
        # The exponent is capped (2**30): legacy counts in the millions must not overflow.
        full: float = max(0.0, base) * 2.0 ** min(max(0, attempts - 1), 30)
        return full / 2 + rng() * (full / 2)

    @classmethod
    def of(cls, backoff: float | Backoff) -> Backoff:
        return backoff if isinstance(backoff, Backoff) else cls(float(backoff))


def worker_lost(owner: str | None, attempts: int) -> JobError:
    """The error of a job whose lease expired (or that was left processing without a lease)."""
    why = (
        f"worker {owner} stopped renewing its lease"
        if owner
        else "it was left processing without a lease"
    )
    return JobError(
        errors.WORKER_LOST,
        f"{why} (attempt {attempts})",
        {"lease_owner": owner, "attempt": attempts},
    )


# -- decisions -----------------------------------------------------------------------------


def after_failure(
    job_id: str,
    worker_id: str,
    *,
    job_type: str | None,
    attempts: int,
    max_attempts: int,
    error: JobError,
    retryable: bool,
    backoff: Backoff,
    now: datetime,
    progress: JobProgress | None = None,
    rng: Callable[[], float] = random.random,
) -> Outcome:
    """Retry or fail: a retryable failure of attempt ``attempts`` is retried after the backoff
    while attempts are left; otherwise the job fails."""
    if retryable and attempts < max_attempts:
        delay = backoff.delay(job_type, attempts, rng)
        return Outcome(
            job_id,
            worker_id,
            "retry",
            error=error,
            available_at=now + timedelta(seconds=delay),
            progress=progress,
        )
    return Outcome(job_id, worker_id, "failed", error=error, progress=progress)


def lease_expired(
    job_id: str,
    owner: str | None,
    *,
    job_type: str | None,
    attempts: int,
    max_attempts: int,
    backoff: Backoff,
    now: datetime,
    rng: Callable[[], float] = random.random,
) -> Outcome:
    """The outcome of an attempt whose worker stopped renewing its lease: ``WORKER_LOST``,
    retried like any retryable failure (same backoff and jitter as the worker's)."""
    return after_failure(
        job_id,
        owner or "",
        job_type=job_type,
        attempts=attempts,
        max_attempts=max_attempts,
        error=worker_lost(owner, attempts),
        retryable=True,
        backoff=backoff,
        now=now,
        rng=rng,
    )


# -- changes of a job ----------------------------------------------------------------------


def outcome_change(out: Outcome, now: datetime) -> Change:
    """How ``out`` changes the processing job it ends."""
    src = JobStatus.PROCESSING
    if out.kind == "completed":
        message = out.progress.message if out.progress else None
        return Change(
            src,
            JobStatus.COMPLETED,
            {
                "status": JobStatus.COMPLETED,
                "results": dict(out.results or {}),
                "progress": JobProgress("completed", 100, message),
                "completed_at": now,
                "announce_pending": out.announce,
                "updated_at": now,
            },
            ("error", *LEASE),
        )
    if out.kind == "failed":
        return _failed(src, out.error, now, out.progress, clears=LEASE, announce=out.announce)
    if out.kind == "retry":
        sets: dict[str, Any] = {
            "status": JobStatus.PENDING,
            "available_at": out.available_at or now,
            "updated_at": now,
        }
        clears: tuple[str, ...] = LEASE
        if out.error is None:
            clears += ("error",)
        else:
            sets["error"] = out.error
        return Change(src, JobStatus.PENDING, sets, clears)
    if out.kind == "release":
        return Change(
            src,
            JobStatus.PENDING,
            {
                "status": JobStatus.PENDING,
                "available_at": out.available_at or now,
                "updated_at": now,
            },
            LEASE,
            attempts_delta=-1,  # not charged: the claim had counted it
        )
    raise ValueError(f"unknown outcome kind {out.kind!r}")


def _failed(
    src: JobStatus,
    error: JobError | None,
    now: datetime,
    progress: JobProgress | None = None,
    *,
    clears: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
    announce: bool = True,
) -> Change:
    """Failed with ``error``, keeping the last percent (the reported one, else the stored)."""
    message = error.message if error else None
    sets: dict[str, Any] = {
        "status": JobStatus.FAILED,
        "completed_at": now,
        "announce_pending": announce,
        "updated_at": now,
        **(extra or {}),
    }
    if error is None:
        clears += ("error",)
    else:
        sets["error"] = error
    keep = None
    if progress is not None:
        sets["progress"] = JobProgress("error", progress.percent, message)
    else:
        keep = KeepPercent("error", message)
    return Change(src, JobStatus.FAILED, sets, clears, keep_percent=keep)


def claimed(worker_id: str, lease_seconds: float, now: datetime) -> Change:
    """A pending job taken by ``worker_id``: attempt ``attempts + 1`` starts under a lease."""
    return Change(
        JobStatus.PENDING,
        JobStatus.PROCESSING,
        {
            "status": JobStatus.PROCESSING,
            "lease_owner": worker_id,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "heartbeat_at": now,
            "processing_started_at": now,
            "updated_at": now,
            "progress": JobProgress("initializing", 0, None),
        },
        attempts_delta=1,
    )


def cancelled_pending(now: datetime) -> Change:
    """A pending job cancelled: failed at once with ``CANCELLED``, keeping its last percent."""
    error = JobError(errors.CANCELLED, "cancelled before it started", None)
    return _failed(JobStatus.PENDING, error, now, clears=LEASE, extra={"cancel_requested": True})


def cancel_requested(now: datetime) -> Change:
    """A processing job asked to stop: its worker sees the flag and fails the attempt."""
    return Change(
        JobStatus.PROCESSING,
        JobStatus.PROCESSING,
        {"cancel_requested": True, "updated_at": now},
    )


def failed_pending(error: JobError, now: datetime) -> Change:
    """A pending job failed without running (its type is served by no live worker)."""
    return _failed(JobStatus.PENDING, error, now)


def quarantined(error: JobError, now: datetime) -> Change:
    """A just-claimed job that cannot be read: failed, not retried, and not announced (no hook
    can be given a job that cannot be read). Its batch counts it as pending to failed."""
    return Change(
        JobStatus.PENDING,
        JobStatus.FAILED,
        {"status": JobStatus.FAILED, "error": error, "completed_at": now, "updated_at": now},
        (*LEASE, "announce_pending"),
    )


def retried_by_hand(attempts: int, budget: int, now: datetime) -> Change:
    """A failed job back to pending with ``budget`` (at least 1) more attempts; attempts keep
    counting, the last attempt's error, results and progress are cleared."""
    return Change(
        JobStatus.FAILED,
        JobStatus.PENDING,
        {
            "status": JobStatus.PENDING,
            "attempts": attempts,
            "max_attempts": attempts + max(1, budget),
            "cancel_requested": False,
            "available_at": now,
            "updated_at": now,
        },
        ("error", "results", "progress", "completed_at", *LEASE, "announce_pending"),
    )


def apply(change: Change, job: Job) -> Job:
    """``job`` after ``change`` (a new object; the reference the stores' writes agree with)."""
    fields: dict[str, Any] = {name: None for name in change.clears}
    for flag in ("announce_pending", "cancel_requested"):
        if flag in fields:
            fields[flag] = False
    fields.update(change.sets)
    fields["attempts"] = max(0, fields.get("attempts", job.attempts) + change.attempts_delta)
    if change.keep_percent is not None:
        percent = job.progress.percent if job.progress is not None else 0
        fields["progress"] = JobProgress(
            change.keep_percent.step, percent, change.keep_percent.message
        )
    return attrs.evolve(job, **fields)


# -- batches -------------------------------------------------------------------------------

#: A batch whose last job just ended: written once, by the write that sees it happen. None of
#: its jobs is pending or processing any more, which it says (a store writing a job and its
#: counters in two writes may have lost a claim's counter move to a dead worker).
BATCH_FINISHED = {
    "status": "completed",
    "announce_pending": True,
    "pending_jobs": 0,
    "processing_jobs": 0,
}  # and completed_at = now
#: A finished batch that has unfinished jobs again: ``completed_at`` and ``announce_pending``
#: are cleared.
BATCH_REOPENED = {"status": "processing"}


def counter_deltas(
    moves: Iterable[tuple[str | None, str, str]],
) -> dict[str, dict[str, int]]:
    """Counter changes per batch for job moves ``(batch id, from status, to status)``: the
    job leaves one counter for another. Batches whose counters do not change are left out."""
    deltas: dict[str, Counter[str]] = {}
    for batch_id, src, dst in moves:
        if batch_id is None or src == dst:
            continue
        delta = deltas.setdefault(batch_id, Counter())
        delta[COUNTER[src]] -= 1
        delta[COUNTER[dst]] += 1
    out = {b: {name: n for name, n in d.items() if n} for b, d in deltas.items()}
    return {b: d for b, d in out.items() if d}


def batch_grown(n: int) -> dict[str, int]:
    """Counter changes of a batch that ``n`` new jobs join (it is ``processing`` again)."""
    return {"total_jobs": n, "pending_jobs": n}


def batch_verdict(
    delta: Mapping[str, int], status: object, completed: object, failed: object, total: object
) -> Literal["finish", "reopen"] | None:
    """Whether a batch whose counters just moved by ``delta`` and now hold these values (as
    stored: missing or not a number counts as 0) finishes now, reopens, or stays as it is.

    Only a job reaching or leaving an end state (or jobs joining) can finish or reopen a batch:
    legacy batches carry counters the old system never kept up to date, and a claim must not
    finish them."""
    if not any(delta.get(name) for name in ("completed_jobs", "failed_jobs", "total_jobs")):
        return None
    ended = stored_count(completed) + stored_count(failed) >= stored_count(total)
    if ended and status != "completed":
        return "finish"
    if not ended and status == "completed":
        return "reopen"
    return None


def stored_count(value: object) -> int:
    """A counter as stored (missing, or not a number: 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)
