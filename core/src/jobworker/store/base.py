"""The store contract: every storage operation the client and the worker use.

A backend implements :class:`Store`; ``tests/test_store_contract.py`` proves each backend with
the same tests. All operations are synchronous and thread-safe; the worker calls them from one I/O
thread. Times are aware UTC datetimes. Every state change that matters (claims, terminal
transitions, batch counters) is one atomic operation of the backend, so many workers on one store
never hold one job at once and batch counters never drift.

Batch counters: ``pending_jobs``, ``processing_jobs``, ``completed_jobs`` and ``failed_jobs`` are
adjusted by the same atomic operation that moves a job between those states, never by recounting.

What each transition writes is decided by :mod:`jobworker.lifecycle`; a backend translates those
decisions into its writes and owns only how they are made atomic.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..lifecycle import Backoff, Outcome, worker_lost
from ..model import Batch, Job, JobProgress, JobStatus, LogEntry

if TYPE_CHECKING:
    import concurrent.futures

    from ..fleet import WorkerRecord
    from ..newjobs import NewJob

T = TypeVar("T")

__all__ = ["Claim", "Outcome", "Purged", "Store", "StoreError", "Transition", "worker_lost"]


class StoreError(Exception):
    """A store operation could not be carried out (bad URL, duplicate id, ...)."""


@attrs.define
class Claim:
    """What a worker asks for in one claim."""

    worker_id: str
    lease_seconds: float
    limit: int
    types: Collection[str] | None = None  # None: any type
    # job type -> at most this many more jobs of the type in this claim (local per-type slots)
    type_slots: Mapping[str, int] = attrs.Factory(dict)
    # job type -> at most this many jobs of the type processing in the whole store (cluster-wide)
    cluster_limits: Mapping[str, int] = attrs.Factory(dict)


class Transition:
    """A job that changed state, and its batch if that batch just finished.

    ``job`` may be given as a function that builds it: backends pass one so that a worker
    whose plugins observe nothing never pays for parsing the documents.
    """

    def __init__(
        self,
        job: Job | Callable[[], Job],
        batch_finished: Batch | None = None,
        *,
        status: JobStatus | None = None,
        job_id: str | None = None,
    ) -> None:
        self._job = job
        self.batch_finished = batch_finished
        self._status = status
        self._job_id = job_id

    @property
    def job(self) -> Job:
        if not isinstance(self._job, Job):
            self._job = self._job()
        return self._job

    @property
    def job_id(self) -> str:
        return self._job_id if self._job_id is not None else self.job.job_id

    @property
    def status(self) -> JobStatus:
        return self._status if self._status is not None else self.job.status

    def __repr__(self) -> str:
        return f"Transition({self.job!r}, {self.batch_finished!r})"


@attrs.define
class Purged:
    """What :meth:`Store.purge` deleted (or, with ``dry_run``, would delete): the finished
    jobs, and the batches that no job is left in afterwards."""

    job_ids: list[str] = attrs.Factory(list)
    batch_ids: list[str] = attrs.Factory(list)


class Store(abc.ABC):
    """One job store. Chosen by URL with :func:`jobworker.store.open_store`."""

    url: str
    #: Most log entries kept per job; older ones are dropped as new ones arrive.
    log_cap: int = 1000
    #: Whether a call is a quick local operation (no network), so that a worker with nothing
    #: running may make its round trip on the event loop itself instead of its I/O thread
    #: (two thread hand-offs less between a wake-up and the handler).
    local: bool = False
    #: Longest log or progress message stored, in bytes of UTF-8; longer ones are cut (see
    #: :mod:`jobworker.store.sizes`).
    log_message_max: int = 8 * 1024

    # -- lifecycle -------------------------------------------------------------------------

    @abc.abstractmethod
    def init(self) -> None:
        """Create tables/collections and indexes; idempotent."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def sync_point(self) -> concurrent.futures.Future[None] | None:
        """A future done once every write this store object has made is durable, or ``None``
        if they already are (the default: each operation returns durable).

        A backend may return from :meth:`exchange` and :meth:`claim` before their writes are
        durable (the SQLite store with ``synchronous=FULL`` syncs them in groups); the worker
        then waits for this before any hook or webhook announces what they wrote, so that
        nothing is announced that a power cut could take back. Every other operation returns
        durable."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting and reading ------------------------------------------------------------

    @abc.abstractmethod
    def enqueue(self, jobs: Sequence[Job], batch: Batch | None = None) -> list[Job]:
        """Insert jobs (and their batch) atomically; return the stored jobs.

        A job whose ``idempotency_key`` is already stored is not inserted again: the existing
        job is returned in its place. With a batch, the inserted jobs belong to it: a new batch
        is stored with ``total_jobs``/``pending_jobs`` = the number inserted; an existing batch
        (same ``batch_id``) grows by that number and is ``processing`` again.
        """

    def enqueue_entries(
        self, entries: Sequence[Job | NewJob], batch: Batch | None = None
    ) -> Sequence[Job | NewJob]:
        """:meth:`enqueue` of jobs and :class:`~jobworker.newjobs.NewJob` entries (new jobs
        without an idempotency key, always inserted: returned as given). This default makes
        jobs of them; a backend that can write a new job's document without one overrides it.
        """
        return self.enqueue([e if isinstance(e, Job) else e.to_job() for e in entries], batch)

    @abc.abstractmethod
    def import_documents(
        self, jobs: Iterable[Mapping[str, Any]], batches: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        """Insert raw documents as they are (legacy shapes), for migration and tests.

        Job documents of internal types or with jobworker's origin fields are refused with
        :class:`StoreError`, before anything is inserted (see :mod:`.imported`)."""

    @abc.abstractmethod
    def get_job(self, job_id: str, *, with_logs: bool = True) -> Job | None: ...

    @abc.abstractmethod
    def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        job_type: str | None = None,
        batch_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        owner: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Job]:
        """Newest first (``created_at``, then ``job_id``, descending), without logs.

        ``owner``: only jobs whose extra field ``owner_key`` is this; ``created_from`` /
        ``created_to``: ``created_at`` in ``[from, to)``; ``after``: keyset pagination, only
        jobs after this ``(created_at, job_id)`` position in that order.
        """

    @abc.abstractmethod
    def get_batch(self, batch_id: str) -> Batch | None: ...

    @abc.abstractmethod
    def list_batches(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        status: str | None = None,
        owner: str | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Batch]:
        """Newest first (``created_at``, then ``batch_id``, descending); filters as for
        :meth:`list_jobs`."""

    @abc.abstractmethod
    def count_by_status(
        self, *, batch_id: str | None = None, job_type: str | None = None
    ) -> dict[str, int]:
        """``{status: count}`` over all jobs (or one batch's, or one type's)."""

    @abc.abstractmethod
    def next_available_at(
        self, types: Collection[str] | None = None, now: datetime | None = None
    ) -> datetime | None:
        """The earliest ``available_at`` of a pending job (of ``types``, if given), if any.

        With ``now``, only times after ``now`` count (jobs already due but not claimable,
        e.g. held back by a limit, must not make an idle worker spin)."""

    # -- the worker's operations -----------------------------------------------------------

    @abc.abstractmethod
    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        """Atomically take up to ``claim.limit`` pending jobs whose ``available_at`` has come.

        Highest ``priority`` first, then oldest ``created_at`` (never newest first). Claimed
        jobs become ``processing`` with ``lease_owner``, ``lease_expires_at``, ``heartbeat_at``,
        ``processing_started_at`` set, ``attempts`` incremented, ``cancel_requested`` kept.
        Honours ``types``, ``type_slots`` and ``cluster_limits``.
        """

    @abc.abstractmethod
    def heartbeat(
        self, worker_id: str, job_ids: Collection[str], lease_seconds: float, now: datetime
    ) -> tuple[set[str], set[str]]:
        """Extend the leases held by ``worker_id``.

        Returns ``(cancel_requested, lost)``: job ids asked to cancel, and job ids this worker no
        longer holds (recovered by another worker, deleted), whose work should stop.
        """

    @abc.abstractmethod
    def save_progress(
        self, worker_id: str, updates: Mapping[str, JobProgress], now: datetime
    ) -> None:
        """Write the latest progress of jobs held by ``worker_id``."""

    @abc.abstractmethod
    def append_logs(self, entries: Sequence[tuple[str, LogEntry]]) -> None:
        """Append log entries, keeping the newest :attr:`log_cap` per job."""

    @abc.abstractmethod
    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[Transition]:
        """Apply attempt outcomes; return the transitions actually applied.

        Every terminal transition adjusts the batch counters in the same atomic operation and,
        when the batch's last job finishes, marks the batch ``completed`` and reports it once.
        """

    @abc.abstractmethod
    def recover_expired(self, now: datetime, backoff: float | Backoff = 2.0) -> list[Transition]:
        """Jobs whose lease expired (their worker died): failed with ``WORKER_LOST`` once
        ``attempts >= max_attempts``, else back to pending (error ``WORKER_LOST`` kept) after
        the job type's backoff with jitter (:func:`jobworker.lifecycle.lease_expired`; a number
        is the base delay of every type). Returns the transitions applied."""

    def repair_batches(self, stale: datetime, now: datetime, limit: int = 20) -> list[Batch]:
        """Put right the counters of unfinished batches not updated since ``stale`` that a
        worker killed between two writes left wrong (at most ``limit`` per call); return the
        batches this finished, left ``announce_pending`` for :meth:`unannounced_batches`.
        Nothing to do for a store that writes a job and its batch in one transaction."""
        return []

    @abc.abstractmethod
    def mark_announced(self, job_ids: Collection[str], batch_ids: Collection[str] = ()) -> None:
        """Clear ``announce_pending`` of these jobs and batches: their ``job_finished`` /
        ``batch_finished`` hooks have run. (A batch sets it when it finishes.)

        Every terminal transition (finish, recovery, cancel) sets ``announce_pending`` in the
        same atomic write, so an announcement lost with a dying worker is not lost for good.
        """

    @abc.abstractmethod
    def unannounced(self, before: datetime, limit: int = 100) -> list[Transition]:
        """Terminal jobs still ``announce_pending`` whose last update is older than ``before``
        (their worker died between the commit and the hooks), to announce again."""

    @abc.abstractmethod
    def unannounced_batches(self, before: datetime, limit: int = 100) -> list[Batch]:
        """Finished batches still ``announce_pending``, last updated before ``before``."""

    def exchange(
        self,
        worker_id: str,
        now: datetime,
        *,
        logs: Sequence[tuple[str, LogEntry]] = (),
        progress: Mapping[str, JobProgress] | None = None,
        outcomes: Sequence[Outcome] = (),
        claim: Claim | None = None,
        announced: Collection[str] = (),
        announced_batches: Collection[str] = (),
    ) -> tuple[list[Transition], list[Job]]:
        """The worker's round trip: mark announcements done, append logs, save progress,
        apply outcomes, then claim.

        One call per loop iteration. This default runs the four operations one after another;
        a backend may run them as one transaction (the SQLite store does), which is what lets
        a worker finish and claim many jobs per commit.
        """
        if announced or announced_batches:
            self.mark_announced(announced, announced_batches)
        self.append_logs(logs)
        self.save_progress(worker_id, progress or {}, now)
        done = self.finish(outcomes, now) if outcomes else []
        claimed = self.claim(claim, now) if claim is not None else []
        return done, claimed

    def try_now(self, call: Callable[[], T]) -> T | None:
        """``call()`` (a call of this store that returns something), if it can run at once: if
        no lock it needs is held by another thread or process; else ``None`` without waiting.

        A worker with jobs running makes its round trip on the event loop this way, where the
        store is local and cannot block the loop (else on its I/O thread: a thread hand-off
        each way and the GIL passed back and forth while the handlers run). This default
        cannot tell, and returns ``None``."""
        return None

    # -- the worker registry (records and rules in :mod:`jobworker.fleet`) ----------------

    @abc.abstractmethod
    def register_worker(self, record: WorkerRecord) -> None:
        """Insert or replace the record of ``record.worker_id``."""

    @abc.abstractmethod
    def workers(self) -> list[WorkerRecord]:
        """Every record (live, stopped and dead), oldest start first."""

    @abc.abstractmethod
    def prune_workers(self, before: datetime) -> int:
        """Delete records last seen (heartbeat or stop) before ``before``; return count."""

    @abc.abstractmethod
    def pending_types(self) -> set[str]:
        """The job types of pending jobs (a legacy job without a type counts as ``session``),
        found through indexes, not by reading every pending job."""

    @abc.abstractmethod
    def fail_pending(
        self, messages: Mapping[str, str], now: datetime, limit: int = 500
    ) -> list[Transition]:
        """Fail up to ``limit`` pending jobs per type named in ``messages`` with
        ``UNKNOWN_JOB_TYPE`` and that type's message (batch counters adjusted, announcement
        pending, as every terminal transition). Returns the transitions."""

    def beat(
        self, record: WorkerRecord, job_ids: Collection[str], now: datetime
    ) -> tuple[set[str], set[str]]:
        """A worker's heartbeat: its registry record and its jobs' leases, in one round trip
        (one transaction on SQLite). Returns what :meth:`heartbeat` returns."""
        self.register_worker(record)
        return self.heartbeat(record.worker_id, job_ids, record.lease_seconds, now)

    def sweep_unserved(self, now: datetime, grace: float) -> list[Transition]:
        """Fail pending jobs whose type the fleet does not serve (:func:`~jobworker.fleet.
        unserved_types`), and forget records older than the grace and :data:`KEEP_RECORDS`."""
        from ..fleet import KEEP_RECORDS, unserved_types  # the worker's duty: not on submit

        records = self.workers()
        messages = unserved_types(self.pending_types(), records, now, grace)
        done = self.fail_pending(messages, now) if messages else []
        keep = max(KEEP_RECORDS, timedelta(seconds=grace))
        if any(now - r.last_seen > keep for r in records):
            self.prune_workers(now - keep)
        return done

    # -- users' operations -----------------------------------------------------------------

    @abc.abstractmethod
    def cancel(self, job_id: str, now: datetime) -> Transition | None:
        """A pending job fails at once with ``CANCELLED``; a processing one gets
        ``cancel_requested`` and its worker stops it. ``None`` if there is no such job or it
        already finished."""

    @abc.abstractmethod
    def retry(self, job_id: str, now: datetime, budget: int = 3) -> Job | None:
        """A failed job goes back to pending with ``budget`` more attempts: ``attempts`` keeps
        counting (the next one is ``attempts + 1``, truthfully numbered in the logs) and
        ``max_attempts`` becomes ``attempts + budget``; error, results and ``completed_at``
        cleared, batch counters and status adjusted. ``None`` if not failed."""

    @abc.abstractmethod
    def purge(
        self, *, before: datetime, statuses: Collection[JobStatus], dry_run: bool = False
    ) -> Purged:
        """Delete finished jobs (and their logs and spilled results) last updated before
        ``before``, and the batches of those jobs that no job is left in; with ``dry_run``
        delete nothing and report what would go."""

    # -- waking idle workers ---------------------------------------------------------------

    def watcher(self) -> Any | None:
        """Like :meth:`notifier`, but readable after *any* change of jobs (progress, logs,
        outcomes...): what live views (the HTTP server's event streams) wait on. ``None`` if
        the backend cannot tell; the caller then re-reads on a timer of its own. Optional."""
        return None

    def api_keys(self) -> Any:
        """The HTTP server's API keys kept in this store (a :class:`.apikeys.KeyStore`)."""
        raise StoreError(f"{type(self).__name__} keeps no API keys")

    def notifier(self, types: Collection[str] | None = None) -> Any | None:
        """An object with ``fileno()``/``drain()`` that becomes readable when jobs may be
        waiting (new job, cancel request), or ``None`` if the backend cannot wake workers and
        they must poll. Optional. ``types``: the worker's types (a backend may wake it only
        for those). ``drain()`` may return the kinds of wake-up that came (``{"work",
        "cancel"}``); ``None`` means either may have happened."""
        return None
