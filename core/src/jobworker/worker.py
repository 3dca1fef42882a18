"""The worker: claims jobs from a store, runs their handlers, and writes every status transition.

One asyncio loop per worker process. Store calls run in one I/O thread, so a slow store never
blocks handlers that run in the loop. Writes are batched: one claim fetches up to the free slots,
and the outcomes of attempts that ended meanwhile are written in one ``finish`` call; progress
and logs are flushed every ``flush_interval``.

Delivery is at least once: a job whose worker dies is run again after its lease expires, so
handlers should be idempotent (write outputs under ``ctx.output_dir``, overwrite, don't append).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import attrs
import structlog

from . import errors, lifecycle
from .announce import HookThreads, announce, announce_progress, announce_started, store_on
from .config import Settings
from .executors import AttemptStopped, Executors, RemoteError, StopSignal
from .fleet import WorkerRecord
from .handler import JobContext, JobHandler
from .model import (
    Batch,
    Job,
    JobError,
    JobProgress,
    LogEntry,
    LogLevel,
    normalise_results,
    utcnow,
)
from .plugins import Plugins, activate, core_version, module_names
from .poison import BURST_STORE_FAILURES, is_data_error, is_store_failure, one_line, parts_by_job
from .serving import PluginWatcher, Serving, reload_plugins
from .store import Claim, Outcome, Store, Transition
from .store.broken import problem_of, unstorable
from .validation import params_for
from .webhooks import delivery as webhooks

__all__ = ["Worker"]

T = TypeVar("T")
log = structlog.get_logger("jobworker.worker")
_IO_THREAD = "jobworker-io"


@attrs.define
class _Running:
    job: Job
    handler: JobHandler | None
    stop: StopSignal
    task: asyncio.Task[None] | None = None
    started: float = attrs.Factory(time.monotonic)
    #: the latest progress the handler reported, flushed or not: a failed or cancelled
    #: attempt keeps its percent (never backwards within an attempt)
    progress: JobProgress | None = None


#: How the end of an attempt is named in the worker's log.
_OUTCOME_WORDS = {"retry": "will retry", "release": "handed back"}


class _Reporter:
    """In-process reporter: hands progress and log lines to the worker for the next flush
    (through :meth:`Worker.report_progress` / :meth:`Worker.report_log`, which are safe from the
    handler threads)."""

    def __init__(self, worker: Worker, run: _Running) -> None:
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


class Worker:
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
        self.running: dict[str, _Running] = {}
        self._outcomes: list[Outcome] = []
        self._progress: dict[str, JobProgress] = {}
        self._logs: list[tuple[str, LogEntry]] = []
        self._announced: list[str] = []
        self._announced_batches: list[str] = []
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._stopping = False
        self._stop_now = False
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_IO_THREAD)
        # Handler threads report progress and logs while the loop swaps the buffers out.
        self._report_lock = threading.Lock()
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
        self._reload_wanted = False

    # -- public ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Work until stopped (or, with ``burst``, until there is nothing left)."""
        loop = asyncio.get_running_loop()
        previous = activate(self.plugins)
        self._plugin_modules = module_names(self.plugins)
        try:
            notifier = self.store.notifier(self.serving.claim_types)
        except OSError as exc:  # e.g. no Unix sockets here: polling alone is still correct
            self.log.warning("no wake-ups, polling only", error=str(exc))
            notifier = None
        if notifier is not None:
            loop.add_reader(notifier.fileno(), self._on_wake, notifier)
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
            if notifier is not None:
                loop.remove_reader(notifier.fileno())
                notifier.close()
            self.executors.close()
            self._io.shutdown(wait=True)
            shutil.rmtree(self._scratch_root, ignore_errors=True)
            activate(previous)
            self._remove_signals(loop)
            self.log.info("worker stopped", processed=self.processed)

    def report_progress(self, job_id: str, progress: JobProgress) -> None:
        """Record a job's latest progress for the next flush (safe from any thread)."""
        with self._report_lock:
            self._progress[job_id] = progress
        if self.on_progress is not None:
            self.on_progress(job_id, progress)

    def report_log(self, job_id: str, entry: LogEntry) -> None:
        """Queue a log line of a job for the next flush (safe from any thread)."""
        with self._report_lock:
            self._logs.append((job_id, entry))

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
                for job in claimed:
                    self._start(job)
            elif self.burst and not self.running and not self._outcomes:
                if idle_since_empty:
                    return
                idle_since_empty = True  # one more look, after recovering expired leases
                self._announce(await self._call(self.store.recover_expired, utcnow(), self.backoff))
                await self._announce_again()
                if await self._sweep_unserved():
                    idle_since_empty = False  # more of them may be left
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=await self._idle_timeout())

    async def _exchange(self, claim: bool) -> list[Job]:
        """One round trip to the store: logs, progress, finished attempts, and a new claim."""
        outcomes, self._outcomes = self._outcomes, []
        with self._report_lock:
            progress, self._progress = self._progress, {}
            logs, self._logs = self._logs, []
        announced, self._announced = self._announced, []
        batches, self._announced_batches = self._announced_batches, []
        progress = {k: v for k, v in progress.items() if k in self.running}
        request = self._claim_request() if claim else None
        if not (outcomes or progress or logs or request or announced or batches):
            return []
        try:
            done, claimed = await self._call(
                functools.partial(
                    self.store.exchange,
                    self.worker_id,
                    utcnow(),
                    logs=logs,
                    progress=progress,
                    outcomes=outcomes,
                    claim=request,
                    announced=announced,
                    announced_batches=batches,
                )
            )
        except BaseException:
            # Nothing is lost: put the unwritten work back for the next round trip.
            self._outcomes[:0] = outcomes
            self._announced[:0] = announced
            self._announced_batches[:0] = batches
            with self._report_lock:
                self._logs[:0] = logs
                self._progress = {**progress, **self._progress}
            raise
        written = [(self.running[j].job, p) for j, p in progress.items() if j in self.running]
        if written:
            self._spawn_hooks(
                "job_progress", announce_progress, self.plugins, self.hook_store, written
            )
        self._announce(done)
        self.processed += len(outcomes)
        self.failed += sum(o.kind == "failed" for o in outcomes)
        return claimed

    async def _isolate_poison(self) -> bool:
        """After a failed round trip, write each job's part alone (see :mod:`.poison`); return
        whether the failure was one job's data (the rest then is written), not the store."""
        parts = parts_by_job(self._outcomes, self._logs, self._progress)
        if not parts:
            return False
        self._outcomes, self._logs, self._progress = [], [], {}
        progressed = False
        for part in parts:
            try:
                await self._write_part(part.outcomes, part.logs, part.progress)
                progressed = True
                continue
            except Exception as exc:
                if not is_data_error(exc):  # the store fails, not this job: keep it for later
                    self._outcomes += part.outcomes
                    self._logs += part.logs
                    self._progress.update(part.progress)
                    continue
                problem = problem_of(exc)
                unwritable = [unstorable(o, exc) for o in part.outcomes]
            progressed = True
            self.log.error("a job's writes fail on their own", job_id=part.job_id, error=problem)
            try:
                await self._write_part(unwritable, [], {})
            except Exception as again:
                self.log.error(
                    "dropped the outcome of a job the store cannot write; its lease will expire",
                    job_id=part.job_id,
                    error=problem_of(again),
                )
        return progressed

    async def _write_part(
        self,
        outcomes: list[Outcome],
        logs: list[tuple[str, LogEntry]],
        progress: dict[str, JobProgress],
    ) -> None:
        done, _ = await self._call(
            functools.partial(
                self.store.exchange,
                self.worker_id,
                utcnow(),
                logs=logs,
                progress=progress,
                outcomes=outcomes,
            )
        )
        self._announce(done)
        self.processed += len(outcomes)
        self.failed += sum(o.kind == "failed" for o in outcomes)

    def _store_trouble(self, what: str, exc: BaseException) -> None:
        """Log a failed background store call: one line (at most every 30 s per duty) when
        the store is failing, a traceback when it is a bug."""
        if not is_store_failure(exc):
            self.log.error(f"{what} failed", exc_info=exc)
            return
        now = time.monotonic()
        if now - self._troubled.get(what, -60.0) >= 30.0:
            self._troubled[what] = now
            self.log.error(f"{what} failed: store unusable", error=one_line(exc))

    async def _wait_stop(self) -> None:
        while not self._stopping:
            self._kick.clear()
            await self._kick.wait()

    async def _idle_timeout(self) -> float:
        timeout = self.settings.poll_interval
        if self.running:
            return timeout
        due = await self._call(self.store.next_available_at, self.serving.claim_types, utcnow())
        if due is not None:
            timeout = min(timeout, max(0.0, (due - utcnow()).total_seconds()) + 0.005)
        return timeout

    def _free_slots(self) -> int:
        return self.settings.concurrency - len(self.running)

    def _claim_request(self) -> Claim | None:
        free = self._free_slots()
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

    def _type_limits(self) -> dict[str, int]:
        limits = {t: h.concurrency for t, h in self.plugins.handlers.items() if h.concurrency}
        limits.update(self.settings.max_concurrent_per_type)
        if self.types is not None:
            limits = {t: n for t, n in limits.items() if t in self.types}
        return limits

    def _start(self, job: Job) -> None:
        handler = self.plugins.handler_for(job.job_type)
        running = _Running(job, handler, StopSignal())
        self.running[job.job_id] = running
        webhooks.job_started(job, self.hook_store)  # in memory: before the attempt runs
        running.task = asyncio.ensure_future(self._attempt(running))
        self.log.info(
            "job started",
            job_type=job.job_type,
            job_id=job.job_id,
            attempt=f"{job.attempts}/{job.max_attempts}",
        )
        if self.plugins.observes("job_started"):
            self._spawn_hooks("job_started", announce_started, self.plugins, self.hook_store, job)

    async def _attempt(self, run: _Running) -> None:
        job, handler = run.job, run.handler
        scratch: Path | None = None
        progress = None
        try:
            if handler is None:
                raise errors.UnknownJobType(
                    f"no installed plugin handles job type {job.job_type!r}; installed types: "
                    f"{', '.join(self.plugins.job_types()) or 'none'}"
                )
            params = params_for(handler, job.parameters)
            scratch = self._scratch_root / f"{job.job_id}-{job.attempts}"
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
            ctx.log(
                "info", f"attempt {job.attempts} of {job.max_attempts} started on {self.worker_id}"
            )
            ctx.progress(0, "processing")
            timeout = job.timeout or handler.timeout
            result = await self.executors.run(handler, ctx, run.stop, timeout)
            if result is not None and not isinstance(result, dict):
                result = {"structured_data": result}
            progress = self._take_progress(job.job_id)
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
            progress = self._take_progress(job.job_id) or run.progress
            outcome = self._failure(run, exc, progress, time.monotonic() - run.started)
        finally:
            if scratch is not None and scratch.exists():
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
            self._outcomes.append(outcome)
        self.running.pop(job.job_id, None)
        self._kick.set()

    def _failure(
        self, run: _Running, exc: BaseException, progress: JobProgress | None, elapsed: float
    ) -> Outcome:
        job, handler = run.job, run.handler
        details: dict[str, Any] = {"duration_ms": int(elapsed * 1000), "attempt": job.attempts}
        if isinstance(exc, (AttemptStopped, asyncio.CancelledError)):
            reason = getattr(exc, "reason", None) or run.stop.reason or "shutdown"
            if reason == "shutdown":
                return Outcome(job.job_id, self.worker_id, "release", progress=progress)
            if reason == "timeout":
                limit = job.timeout or (handler.timeout if handler else None)
                error = JobError(
                    errors.TIMEOUT, f"attempt stopped after its timeout of {limit} s", details
                )
                retryable = True
            else:
                error = JobError(errors.CANCELLED, "cancelled while running", details)
                retryable = False
        elif isinstance(exc, errors.JobFailure):
            error = JobError(exc.code, exc.message, {**details, **(exc.details or {})})
            retryable = exc.retryable
        elif isinstance(exc, RemoteError):
            error = JobError(
                errors.HANDLER_ERROR,
                f"{exc.type_name}: {exc.message}",
                {**details, "exception": exc.type_name, "traceback": exc.tb},
            )
            retryable = True
        else:
            error = JobError(
                errors.HANDLER_ERROR,
                f"{type(exc).__name__}: {exc}",
                {
                    **details,
                    "exception": type(exc).__name__,
                    "traceback": "".join(traceback.format_exception(exc)),
                },
            )
            retryable = True
        if run.stop.reason == "cancelled" and error.code != errors.CANCELLED:
            error = JobError(errors.CANCELLED, "cancelled while running", details)
            retryable = False
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

    @property
    def backoff(self) -> lifecycle.Backoff:
        """Retry delays by job type (the handlers' ``backoff``; ``retry_backoff`` for types no
        handler serves): for failed attempts and for jobs recovered from lost workers alike."""
        by_type: dict[str, float] = {}
        for handler in self.plugins.handlers.values():
            for name in (handler.job_type, *handler.aliases):
                by_type[name] = handler.backoff
        return lifecycle.Backoff(self.settings.retry_backoff, by_type)

    def _announce(self, transitions: list[Transition], batches: list[Batch] | None = None) -> None:
        """Run the reactions to committed transitions (:func:`jobworker.announce.announce`) on
        the hook threads; what they announced is marked in the store by a later round trip."""
        batches = list(batches or ())
        if not batches and not any(
            t.status.terminal or t.batch_finished is not None for t in transitions
        ):
            return

        async def run() -> None:
            done = await self._hooks.run(
                "job_finished/batch_finished",
                announce,
                self.plugins,
                self.hook_store,
                transitions,
                batches,
            )
            if done is not None:
                self._announced += done[0]
                self._announced_batches += done[1]

        self._track(run())

    def _spawn_hooks(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        self._track(self._hooks.run(what, fn, *args))

    def _track(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)

    async def _drain_hooks(self) -> None:
        """Wait for the hooks still running (each within its time limit), writing what they
        announced, until none is left."""
        while self._hook_tasks:
            await asyncio.gather(*list(self._hook_tasks), return_exceptions=True)
            try:
                await self._flush()
            except Exception:  # a dead store: the sweep of another worker announces again
                self.log.exception("could not write what the hooks announced")
                return

    def _take_progress(self, job_id: str) -> JobProgress | None:
        with self._report_lock:
            return self._progress.pop(job_id, None)

    # -- background duties -----------------------------------------------------------------

    async def _flush(self) -> None:
        await self._exchange(claim=False)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self._flush()
            except Exception as exc:
                self._store_trouble("flush", exc)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self._heartbeat()
            except Exception as exc:
                self._store_trouble("heartbeat", exc)

    def _current_record(self) -> WorkerRecord:
        record = self.record
        record.heartbeat_at = utcnow()
        record.types = dict(self.serving.types)
        record.aliases = dict(self.serving.aliases)
        record.unavailable = dict(self.serving.unavailable)
        record.installed = list(self.serving.installed)
        record.plugins = list(self.serving.plugins)
        record.running = list(self.running)
        record.processed, record.failed = self.processed, self.failed
        return attrs.evolve(record)

    async def _heartbeat(self, registry: bool = True) -> None:
        """Renew the leases of the running jobs and (``registry``) the worker's record, in
        one round trip; stop attempts whose job was cancelled or lost."""
        if registry:
            cancelled, lost = await self._call(
                self.store.beat, self._current_record(), list(self.running), utcnow()
            )
        elif self.running:
            cancelled, lost = await self._call(
                self.store.heartbeat,
                self.worker_id,
                list(self.running),
                self.settings.lease_seconds,
                utcnow(),
            )
        else:
            return
        for job_id in cancelled:
            if job_id in self.running:
                self.log.info("cancel requested", job_id=job_id)
                self.running[job_id].stop.stop("cancelled")
        for job_id in lost:
            if job_id in self.running:
                self.log.warning("lease lost; stopping the attempt", job_id=job_id)
                self.running[job_id].stop.stop("lost")

    async def _recovery_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 2 * random.uniform(0.5, 1.0))
            try:
                done = await self._call(self.store.recover_expired, utcnow(), self.backoff)
            except Exception:
                self.log.exception("recovery sweep failed")
                continue
            for t in done:
                self.log.warning(
                    "recovered a job from a lost worker",
                    job_id=t.job.job_id,
                    status=t.job.status.value,
                )
            self._announce(done)
            await self._announce_again()
            await self._sweep_unserved()

    async def _sweep_unserved(self) -> int:
        """Fail pending jobs of types the fleet does not serve (see :mod:`jobworker.fleet`).

        Skipped while this worker's installed plugins changed and it has not reloaded yet: a
        job of a type just installed here must not fail as never served."""
        try:
            if self._reload_wanted or (
                self._watcher is not None and await self._call(self._watcher.changed)
            ):
                self.request_reload()
                return 0
            done = await self._call(
                self.store.sweep_unserved, utcnow(), self.settings.unknown_type_grace
            )
        except Exception:
            self.log.exception("unknown-type sweep failed")
            return 0
        if done:
            self.log.warning(
                "failed jobs of types no live worker serves",
                jobs=len(done),
                types=sorted({t.job.job_type for t in done}),
            )
        self._announce(done)
        return len(done)

    # -- plugins installed or removed while running ----------------------------------------

    def request_reload(self) -> None:
        """Reload the plugins before the next claim (SIGHUP, ``jobworker install``)."""
        self._reload_wanted = True
        self._kick.set()

    async def _plugin_check_loop(self) -> None:
        if self._watcher is None:
            return
        while True:
            await asyncio.sleep(self.settings.plugin_check_interval)
            try:
                if await self._call(self._watcher.changed):
                    self.request_reload()
            except Exception:
                self.log.exception("plugin check failed")

    async def _reload_plugins(self) -> None:
        """Load the plugins again, between jobs: running attempts keep the handlers they
        started with; claims from now on are for what the new plugins serve."""
        self._reload_wanted = False
        if self._watcher is None:
            self._watcher = await self._call(PluginWatcher)
        await self._call(self._watcher.prepare)
        try:
            plugins = await self._call(reload_plugins, self.plugins)
        except Exception:
            self.log.exception("plugin reload failed; keeping the loaded plugins")
            return
        before = self.serving
        self.plugins = plugins
        self.serving = Serving.of(plugins, self.settings, self.types)
        activate(plugins)
        self._plugin_modules = module_names(plugins)
        self.executors.processes.recycle()
        self.log.info(
            "plugins reloaded",
            types=sorted(self.serving.types),
            added=sorted(set(self.serving.types) - set(before.types)) or None,
            removed=sorted(set(before.types) - set(self.serving.types)) or None,
            problems=[f"{p.plugin}: {p.message}" for p in plugins.problems] or None,
        )
        await self._heartbeat()  # the fleet learns the new types now

    async def _announce_again(self) -> None:
        """Run ``job_finished`` for transitions whose worker died before it could (it would
        have marked them announced within a flush interval)."""
        stale = utcnow() - timedelta(seconds=2 * self.settings.lease_seconds)
        try:
            missed = await self._call(self.store.unannounced, stale)
            batches = await self._call(self.store.unannounced_batches, stale)
        except Exception:
            self.log.exception("announcement sweep failed")
            return
        if missed or batches:
            self.log.warning(
                "announcing transitions a lost worker did not",
                jobs=[t.job_id for t in missed],
                batches=[b.batch_id for b in batches],
            )
        self._announce(missed, batches)

    def _on_wake(self, notifier: Any) -> None:
        kinds = notifier.drain()  # None: the channel cannot tell new work from a cancel
        if kinds is None or "work" in kinds:
            self._kick.set()
        cancel = kinds is None or "cancel" in kinds
        if cancel and self.running and not self._stopping:  # look at once which to stop
            task = asyncio.ensure_future(self._heartbeat(registry=False))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- shutdown --------------------------------------------------------------------------

    async def _shutdown(self) -> None:
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
