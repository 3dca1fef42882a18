"""What a worker claims and holds: free slots, per-type limits, and jobs claimed ahead.

Claiming ahead (``prefetch_multiplier``, as Celery's prefetch): while attempts end within
milliseconds, a claim may also take jobs for slots that are still busy, up to
``prefetch_multiplier`` x ``concurrency`` jobs held at once. They wait in the worker, leased to it
(``processing`` in the store, their leases renewed with the running ones'), and start as slots
free, without a round trip each; the next round trip comes once no more than ``concurrency`` of
them are left. The store's ``started_at`` of such a job is when it was claimed; its attempt's
first log line and the ``job_started`` hook come when it starts.

Unlike Celery's prefetch, a worker claims ahead only what it expects to start within
``PREFETCH_WAIT``, judged by how long its recent attempts took, and nothing while one of its
attempts has run longer than that; so long jobs are never claimed ahead of each other. If
running attempts turn out long after all, jobs still waiting after ``PREFETCH_HOLD`` are handed
back, uncharged (as at a shutdown), for any worker to take; so is every job still waiting when
the worker stops or reloads its plugins. One cancelled while it waits ends ``CANCELLED``
without running. A worker killed outright loses what it held like what it ran: the leases
expire and the jobs run again.

A mixin of :class:`jobworker.worker.Worker`, which provides the attributes declared below.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import attrs

from .config import Settings
from .executors import AttemptStopped, StopSignal
from .handler import JobHandler
from .model import Job, JobProgress, utcnow
from .plugins import Plugins
from .serving import Serving
from .store import Claim, Outcome, Store
from .writes import Writes

__all__ = ["PREFETCH_HOLD", "PREFETCH_WAIT", "Running", "WorkerClaims"]

#: A claim takes jobs ahead of free slots only as many as are expected to start within this.
PREFETCH_WAIT = 0.01
#: Jobs claimed ahead still waiting after this long are handed back (the running ones are long).
PREFETCH_HOLD = 1.0


@attrs.define
class Running:
    """A job the worker holds: its attempt running, or (``task`` None) waiting for a slot."""

    job: Job
    handler: JobHandler | None
    stop: StopSignal
    task: asyncio.Task[None] | None = None
    #: when the attempt started (while it waits for a slot: when it was claimed)
    started: float = attrs.Factory(time.monotonic)
    #: the latest progress the handler reported, flushed or not: a failed or cancelled
    #: attempt keeps its percent (never backwards within an attempt)
    progress: JobProgress | None = None


class WorkerClaims:
    """Claim requests, and the jobs claimed ahead (see the module docstring)."""

    # Provided by the worker.
    settings: Settings
    store: Store
    plugins: Plugins
    serving: Serving
    types: list[str] | None
    worker_id: str
    log: Any
    running: dict[str, Running]
    _writes: Writes
    _kick: asyncio.Event
    _stopping: bool
    _reload_wanted: bool

    if TYPE_CHECKING:

        def _start(self, running: Running) -> None: ...

        def _failure(
            self, run: Running, exc: BaseException, progress: JobProgress | None, elapsed: float
        ) -> Outcome: ...

        async def _wait_kick(self, timeout: float) -> None: ...

        async def _here_if_quick(self, fn: Any, *args: Any) -> Any: ...

    def _init_claims(self) -> None:
        #: jobs claimed ahead of a free slot, in claim order (also in ``running``)
        self._waiting: collections.deque[Running] = collections.deque()
        #: how long recent attempts took, in seconds (a moving average; None before the first)
        self._typical: float | None = None

    # -- what to claim ---------------------------------------------------------------------

    def _claim_request(self) -> Claim | None:
        free = self.settings.concurrency + self._claim_ahead() - len(self.running)
        if free <= 0 or self._stopping or not self.serving.types:
            return None
        slots: dict[str, int] = {}
        for job_type, limit in self._type_limits().items():
            running = sum(1 for r in self.running.values() if r.job.job_type == job_type)
            if limit - running < free:
                slots[job_type] = max(0, limit - running)
        return Claim(
            self.worker_id,
            self.settings.lease_seconds,
            free,
            self.serving.claim_types,
            slots,
            dict(self.settings.cluster_max_concurrent_per_type),
        )

    def _claim_ahead(self) -> int:
        """How many jobs beyond the slots the worker may hold: as many as are expected to start
        within ``PREFETCH_WAIT``, judged by recent attempts; none while one runs longer."""
        slots, typical = self.settings.concurrency, self._typical
        most = slots * (self.settings.prefetch_multiplier - 1)
        if most <= 0 or typical is None or self._stopping or self._reload_wanted:
            return 0
        oldest = time.monotonic() - PREFETCH_WAIT
        if any(r.started < oldest for r in self.running.values() if r.task is not None):
            return 0
        return min(most, int(PREFETCH_WAIT * slots / max(typical, 1e-6)))

    def _type_limits(self) -> dict[str, int]:
        limits = {t: h.concurrency for t, h in self.plugins.handlers.items() if h.concurrency}
        limits.update(self.settings.max_concurrent_per_type)
        if self.types is not None:
            limits = {t: n for t, n in limits.items() if t in self.types}
        return limits

    async def _idle_timeout(self) -> float:
        """How long the loop may wait for a kick: the poll interval, less if a delayed job
        is due sooner or jobs wait for a slot (they are handed back after ``PREFETCH_HOLD``)."""
        timeout = self.settings.poll_interval
        if self._waiting:
            return min(timeout, PREFETCH_HOLD)
        if self.running:
            return timeout
        due = await self._here_if_quick(
            self.store.next_available_at, self.serving.claim_types, utcnow()
        )
        if due is not None:
            timeout = min(timeout, max(0.0, (due - utcnow()).total_seconds()) + 0.005)
        return timeout

    async def _held_enough(self) -> bool:
        """Whether the loop skips this round trip: more than ``concurrency`` jobs wait for a
        slot (it waits for the next kick instead). Jobs held past ``PREFETCH_HOLD`` are
        handed back first."""
        if not self._waiting:
            return False
        if time.monotonic() - self._waiting[0].started > PREFETCH_HOLD:
            self._hand_back_waiting("held")
            return False
        if len(self._waiting) <= self.settings.concurrency:
            return False
        await self._wait_kick(PREFETCH_HOLD)
        return True

    # -- what is held ----------------------------------------------------------------------

    def _take(self, claimed: Collection[Job]) -> None:
        """Hold the claimed jobs; start as many as slots are free."""
        for job in claimed:
            run = Running(job, self.plugins.handler_for(job.job_type), StopSignal())
            self.running[job.job_id] = run
            self._waiting.append(run)
        self._start_waiting()

    def _attempt_ended(self, run: Running) -> None:
        """After an attempt's outcome: note its duration, start what waits for its slot, and
        wake the loop unless enough jobs still wait (then it has nothing to do)."""
        self.running.pop(run.job.job_id, None)
        took = time.monotonic() - run.started
        self._typical = took if self._typical is None else 0.8 * self._typical + 0.2 * took
        if not self._stopping:
            self._start_waiting()
        if len(self._waiting) <= self.settings.concurrency:
            self._kick.set()

    def _start_waiting(self) -> None:
        """End the waiting jobs stopped before they started (cancelled, lease lost); start
        waiting jobs in claim order while slots are free."""
        if any(r.stop.reason is not None for r in self._waiting):
            for run in [r for r in self._waiting if r.stop.reason is not None]:
                self._waiting.remove(run)
                self._end_unstarted(run)
        while self._waiting and len(self.running) - len(self._waiting) < self.settings.concurrency:
            self._start(self._waiting.popleft())

    def _hand_back_waiting(self, why: str) -> None:
        """Hand the jobs claimed ahead back to the queue, uncharged (a stop; held too long)."""
        if self._waiting:
            self.log.info("handing back jobs claimed ahead", jobs=len(self._waiting), why=why)
        while self._waiting:
            run = self._waiting.popleft()
            run.stop.stop("shutdown")
            self._end_unstarted(run)

    def _end_unstarted(self, run: Running) -> None:
        """The outcome of a job stopped before its attempt started: handed back uncharged
        (``shutdown``), ``CANCELLED``, or none (its lease was lost: it is another's now)."""
        self.running.pop(run.job.job_id, None)
        if run.stop.reason != "lost":
            stopped = AttemptStopped(run.stop.reason or "shutdown")
            self._writes.add_outcome(self._failure(run, stopped, None, 0.0))
        self._kick.set()
