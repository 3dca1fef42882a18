"""The worker: claims jobs from a store, runs their handlers, and writes every status transition.

One asyncio loop per worker process. Store calls run in one I/O thread, so a slow store never
blocks handlers that run in the loop. Writes are batched: one claim fetches up to the free slots,
and the outcomes of attempts that ended meanwhile are written in one ``finish`` call; progress
and logs are flushed every ``flush_interval``.

Jobs are claimed ahead of free slots while attempts end quickly: :mod:`.worker_claims`.

Delivery is at least once: a job whose worker dies is run again after its lease expires, so
handlers should be idempotent (write outputs under ``ctx.output_dir``, overwrite, don't append).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import structlog

from . import errors, lifecycle
from .announce import HookThreads, announce_progress, announce_started, store_on
from .config import Settings
from .executors import Executors
from .failures import attempt_error
from .fleet import WorkerRecord
from .handler import JobContext
from .model import (
    Job,
    JobProgress,
    LogEntry,
    LogLevel,
    folder_name_problem,
    normalise_results,
    utcnow,
)
from .plugins import Plugins, activate, core_version, module_names
from .poison import BURST_STORE_FAILURES, one_line
from .serving import PluginWatcher, Serving
from .store import Outcome, Store
from .validation import params_for
from .webhooks import delivery as webhooks
from .worker_claims import Running, WorkerClaims
from .worker_duties import WorkerDuties
from .worker_hooks import WorkerHooks
from .writes import Writes

__all__ = ["Worker"]

T = TypeVar("T")
log = structlog.get_logger("jobworker.worker")
_IO_THREAD = "jobworker-io"


#: How the end of an attempt is named in the worker's log.
_OUTCOME_WORDS = {"retry": "will retry", "release": "handed back"}


class _Reporter:
    """In-process reporter: hands progress and log lines to the worker for the next flush
    (through :meth:`Worker.report_progress` / :meth:`Worker.report_log`, which are safe from the
    handler threads)."""

    def __init__(self, worker: Worker, run: Running) -> None:
        self.worker, self.run = worker, run
        self.job_id, self.stop = run.job.job_id, run.stop

    def progress(self, percent: int, step: str | None, message: str | None) -> None:
        progress = JobProgress(step or "processing", percent, message)
        self.run.progress = progress
        self.worker.report_progress(self.job_id, progress)

    def log(self, level: str, message: str) -> None:
        self.worker.report_log(self.job_id, LogEntry(utcnow(), LogLevel.parse(level), str(message)))

    def is_cancelled(self) -> bool:
        return self.stop.reason is not None


class Worker(WorkerClaims, WorkerDuties, WorkerHooks):
    """Process jobs from ``store`` with the handlers of ``plugins``.

    :param types: serve only these job types (``--types``); ``None`` serves every type with a
        working handler. A worker claims only what it serves; pending jobs of types no live
        worker serves are failed with ``UNKNOWN_JOB_TYPE`` by the sweep (:mod:`jobworker.fleet`).
    :param burst: return once nothing is claimable and nothing runs.

    The worker records itself in the store's worker registry when it starts, refreshes that
    record with every heartbeat, and marks it stopped when it exits. It reloads its plugins
    between jobs when installed plugins change (checked every ``plugin_check_interval`` and
    on SIGHUP); running jobs keep the handlers they started with.
    """

    flush_interval = 0.2
    #: Called with ``(job_id, progress)`` on every progress report, before coalescing (tests).
    on_progress: Callable[[str, JobProgress], None] | None = None

    def __init__(
        self,
        store: Store,
        plugins: Plugins,
        settings: Settings,
        *,
        types: Collection[str] | None = None,
        burst: bool = False,
        worker_id: str | None = None,
    ) -> None:
        self.store, self.plugins, self.settings = store, plugins, settings
        self.types = None if types is None else sorted(set(types))
        self.burst = burst
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        #: every job this worker holds: started attempts, and jobs claimed ahead (``_waiting``)
        self.running: dict[str, Running] = {}
        #: what the next round trip writes (see :mod:`.writes`)
        self._writes = Writes()
        #: running jobs whose end has nothing to announce (see :meth:`_quietly_finished`)
        self._quiet: set[str] = set()
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._stopping = False
        self._init_claims()
        self._stop_now = False
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_IO_THREAD)
        self._hooks = HookThreads(limit=settings.hook_timeout)
        self._hook_tasks: set[asyncio.Future[Any]] = set()
        #: The store as lifecycle hooks see it: every call runs on the I/O thread.
        self.hook_store = store_on(store, self._io, _IO_THREAD)
        process_slots = settings.concurrency
        self.executors = Executors(
            threads=max(4, settings.concurrency * 2),
            processes=min(process_slots, os.cpu_count() or 1),
        )
        self.log = log.bind(worker_id=self.worker_id)
        self._scratch_root = Path(tempfile.gettempdir()) / f"jobworker-{self.worker_id}"
        self._scratch_dir = str(self._scratch_root)
        self.processed = 0
        #: Why a burst worker gave up on its store (``jobworker run --burst`` exits 1), if so.
        self.store_error: str | None = None
        self._troubled: dict[str, float] = {}
        self.failed = 0
        self.serving = Serving.of(plugins, settings, self.types)
        self.record = WorkerRecord.here(
            self.worker_id, core_version(), utcnow(), settings.lease_seconds, settings.concurrency
        )
        self._watcher: PluginWatcher | None = None
        #: the store's wake-up channel while the worker runs (see :meth:`_listen`)
        self._notifier: Any = None
        self._reload_wanted = False

    # -- public ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Work until stopped (or, with ``burst``, until there is nothing left)."""
        loop = asyncio.get_running_loop()
        previous = activate(self.plugins)
        self._plugin_modules = module_names(self.plugins)
        await self._listen()
        self._install_signals(loop)
        if self.settings.plugin_check_interval > 0:
            self._watcher = await self._call(PluginWatcher)
        try:
            await self._heartbeat()  # in the registry before the first claim
        except Exception as exc:  # the main loop backs off (or, in burst mode, gives up)
            self._store_trouble("registration", exc)
        background = [
            asyncio.ensure_future(f())
            for f in (
                self._heartbeat_loop,
                self._recovery_loop,
                self._flush_loop,
                self._plugin_check_loop,
            )
        ]
        self.log.info(
            "worker started",
            types=sorted(self.serving.types),
            unavailable=self.serving.unavailable or None,
            store=self.store.url,
            concurrency=self.settings.concurrency,
        )
        try:
            await self._main_loop()
            await self._shutdown()
        finally:
            for task in [*background, *self._tasks]:
                task.cancel()
            await asyncio.gather(*background, *self._tasks, return_exceptions=True)
            try:
                await self._flush()
            except Exception as exc:  # unwritten work of a dead store: leases will expire
                self._store_trouble("final flush", exc)
            await self._drain_hooks()
            self._hooks.close()
            with contextlib.suppress(Exception):  # a dead store cannot be told; expiry will do
                self.record.stopped_at = utcnow()
                await self._call(self.store.register_worker, self._current_record())
            notifier = self._unlisten()
            if notifier is not None:
                notifier.close()
            self.executors.close()
            self._io.shutdown(wait=True)
            shutil.rmtree(self._scratch_root, ignore_errors=True)
            activate(previous)
            self._remove_signals(loop)
            self.log.info("worker stopped", processed=self.processed)

    async def _listen(self) -> None:
        """Open the store's wake-up channel for the types served now, closing the one that was
        open (a change stream is filtered by type: after a plugin reload it must change)."""
        old = self._unlisten()
        if old is not None:
            await self._call(old.close)  # a change stream's thread may take a moment to end
        try:
            notifier = self.store.notifier(self.serving.claim_types)
        except OSError as exc:  # e.g. no Unix sockets here: polling alone is still correct
            self.log.warning("no wake-ups, polling only", error=str(exc))
            return
        if notifier is not None:
            asyncio.get_running_loop().add_reader(notifier.fileno(), self._on_wake, notifier)
            self._notifier = notifier

    def _unlisten(self) -> Any:
        """Stop listening to the wake-up channel; return it (still open: the caller closes it)."""
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            asyncio.get_running_loop().remove_reader(notifier.fileno())
        return notifier

    def report_progress(self, job_id: str, progress: JobProgress) -> None:
        """Record a job's latest progress for the next flush (safe from any thread)."""
        self._writes.report_progress(job_id, progress)
        if self.on_progress is not None:
            self.on_progress(job_id, progress)

    def report_log(self, job_id: str, entry: LogEntry) -> None:
        """Queue a log line of a job for the next flush (safe from any thread)."""
        self._writes.report_log(job_id, entry)

    def request_stop(self, immediate: bool = False) -> None:
        """Stop claiming; with ``immediate`` (or a second call) hand running jobs back now."""
        if self._stopping or immediate:
            self._stop_now = True
        self._stopping = True
        self._kick.set()

    # -- the loop --------------------------------------------------------------------------

    async def _main_loop(self) -> None:
        idle_since_empty = False
        failures = 0
        while not self._stopping:
            self._kick.clear()
            if self._reload_wanted:
                await self._reload_plugins()
            if await self._held_enough():
                continue  # enough jobs claimed ahead: no round trip yet
            try:
                claimed = await self._exchange(claim=True)
                failures = 0
            except Exception as exc:  # the store is unreachable (failover, locked disk ...)
                if failures == 0 and await self._isolate_poison():
                    continue  # one job's data was the problem: the others are written
                failures += 1
                if self.burst and failures >= BURST_STORE_FAILURES:
                    self.store_error = one_line(exc)
                    self.log.error("store unusable; giving up (burst)", error=self.store_error)
                    return
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                self.log.error(
                    "store round trip failed; backing off", error=one_line(exc), retry_in=delay
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wait_stop(), delay)
                continue
            if claimed:
                idle_since_empty = False
                self._take(claimed)
            elif not self.running and (self._writes.has_outcomes or self._writes.has_announced):
                continue  # written now, before idling: not by the round trip of the next pickup
            elif self.burst and not self.running and not self._writes.has_outcomes:
                if idle_since_empty:
                    return
                idle_since_empty = True  # one more look, after recovering expired leases
                self._announce(await self._call(self.store.recover_expired, utcnow(), self.backoff))
                await self._announce_again()
                if await self._sweep_unserved():
                    idle_since_empty = False  # more of them may be left
                continue
            await self._wait_kick(await self._idle_timeout())

    async def _exchange(self, claim: bool) -> list[Job]:
        """One round trip to the store: logs, progress, finished attempts, and a new claim."""
        writes = self._writes.take(self.running)
        request = self._claim_request() if claim else None
        if writes.empty and request is None:
            return []
        call = functools.partial(
            self.store.exchange,
            self.worker_id,
            utcnow(),
            logs=writes.logs,
            progress=writes.progress,
            outcomes=writes.outcomes,
            claim=request,
            announced=writes.announced,
            announced_batches=writes.announced_batches,
        )
        try:
            done, claimed = await self._here_if_quick(call)
        except BaseException:
            self._writes.put_back(writes)  # nothing is lost: written by the next round trip
            raise
        outcomes, progress = writes.outcomes, writes.progress
        written = [(self.running[j].job, p) for j, p in progress.items() if j in self.running]
        if written:
            self._spawn_hooks(
                "job_progress", announce_progress, self.plugins, self.hook_store, written
            )
        self._announce(done)
        self._quiet.difference_update(o.job_id for o in outcomes)
        self.processed += len(outcomes)
        self.failed += sum(o.kind == "failed" for o in outcomes)
        return claimed

    async def _wait_stop(self) -> None:
        while not self._stopping:
            self._kick.clear()
            await self._kick.wait()

    def _start(self, running: Running) -> None:
        job = running.job
        running.started = time.monotonic()
        webhooks.job_started(job, self.hook_store)  # in memory: before the attempt runs
        if webhooks.finish_is_quiet(job):
            self._quiet.add(job.job_id)
        running.task = asyncio.ensure_future(self._attempt(running))
        self.log.info(
            "job started",
            job_type=job.job_type,
            job_id=job.job_id,
            attempt=f"{job.attempts}/{job.max_attempts}",
        )
        if self.plugins.observes("job_started"):
            self._spawn_hooks("job_started", announce_started, self.plugins, self.hook_store, job)

    async def _attempt(self, run: Running) -> None:
        job, handler = run.job, run.handler
        scratch: str | None = None
        progress = None
        try:
            if handler is None:
                raise errors.UnknownJobType(
                    f"no installed plugin handles job type {job.job_type!r}; installed types: "
                    f"{', '.join(self.plugins.job_types()) or 'none'}"
                )
            params = params_for(handler, job.parameters)
            if folder_name_problem(job.job_id) is None:  # else the attempt has no scratch dir
                scratch = os.path.join(self._scratch_dir, f"{job.job_id}-{job.attempts}")
            ctx = JobContext(
                job,
                params,
                _Reporter(self, run),
                self._scratch_root,
                tuple(self.settings.input_roots),
                self.settings.output_root,
                self.settings.for_type(handler.job_type),
                self.settings.max_input_bytes,
                self._plugin_modules,
            )
            started = f"attempt {job.attempts} of {job.max_attempts} started on {self.worker_id}"
            self.report_log(job.job_id, LogEntry(utcnow(), LogLevel.INFO, started))
            ctx.progress(0, "processing")
            timeout = job.timeout or handler.timeout
            result = await self.executors.run(handler, ctx, run.stop, timeout)
            if result is not None and not isinstance(result, dict):
                result = {"structured_data": result}
            progress = self._writes.take_progress(job.job_id)
            outcome = Outcome(
                job.job_id,
                self.worker_id,
                "completed",
                results=normalise_results(result),
                progress=progress,
            )
        except BaseException as exc:  # every failure becomes an outcome; nothing escapes
            if isinstance(exc, asyncio.CancelledError) and run.stop.reason is None:
                run.stop.stop("shutdown")
            progress = self._writes.take_progress(job.job_id) or run.progress
            outcome = self._failure(run, exc, progress, time.monotonic() - run.started)
        finally:
            if scratch is not None and os.path.exists(scratch):  # os.path: no Path per job
                shutil.rmtree(scratch, ignore_errors=True)
        # One line per job end (as RQ and Celery log): type, id, duration, outcome.
        self.log.info(
            "job ended",
            job_type=job.job_type,
            job_id=job.job_id,
            duration=f"{time.monotonic() - run.started:.2f}s",
            outcome=_OUTCOME_WORDS.get(outcome.kind, outcome.kind),
            **(
                {"code": outcome.error.code, "error": outcome.error.message[:200]}
                if outcome.error is not None
                else {}
            ),
        )
        if outcome.error is not None:
            self.report_log(
                job.job_id,
                LogEntry(
                    utcnow(),
                    LogLevel.ERROR if outcome.kind == "failed" else LogLevel.WARNING,
                    f"{outcome.error.code}: {outcome.error.message}",
                ),
            )
        if run.stop.reason != "lost":
            if job.job_id in self._quiet and not self._ends_observed():
                outcome.announce = False  # written announced: no second write to mark it
            self._writes.add_outcome(outcome)
        else:
            self._quiet.discard(job.job_id)
        self._attempt_ended(run)

    def _failure(
        self, run: Running, exc: BaseException, progress: JobProgress | None, elapsed: float
    ) -> Outcome:
        job = run.job
        found = attempt_error(exc, job, run.handler, run.stop.reason, elapsed)
        if found is None:  # stopped by a shutdown: handed back, not charged
            return Outcome(job.job_id, self.worker_id, "release", progress=progress)
        error, retryable = found
        return lifecycle.after_failure(
            job.job_id,
            self.worker_id,
            job_type=job.job_type,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            error=error,
            retryable=retryable,
            backoff=self.backoff,
            now=utcnow(),
            progress=progress,
        )

    # -- background duties -----------------------------------------------------------------

    async def _flush(self) -> None:
        await self._exchange(claim=False)

    # -- shutdown --------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._hand_back_waiting("stopping")
        if self.running:
            self.log.info(
                "stopping: waiting for running jobs",
                running=len(self.running),
                grace=self.settings.shutdown_grace,
            )
            deadline = time.monotonic() + self.settings.shutdown_grace
            while self.running and not self._stop_now and time.monotonic() < deadline:
                self._kick.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), deadline - time.monotonic())
            for run in list(self.running.values()):
                run.stop.stop("shutdown")
            tasks = [r.task for r in self.running.values() if r.task]
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.log.info(
            "signal received",
            signal=sig.name,
            action="hand back now" if self._stopping else "graceful stop",
        )
        self.request_stop()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    async def _here_if_quick(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the loop itself if the store is local and either no job runs
        (nothing to hold up; an idle worker's pickup saves two thread hand-offs) or the store
        can make the call without waiting for a lock (:meth:`Store.try_now`); else on the I/O
        thread."""
        if self.store.local:
            if not self.running:
                return fn(*args)
            done = self.store.try_now(functools.partial(fn, *args))
            if done is not None:
                return done
        return await self._call(fn, *args)
