"""The worker's background duties: heartbeats (leases and the registry record), the
expired-lease sweep, the unserved-type sweep, repairing batch counters and announcing what a
lost worker did not, plugin reloads, the flush timer, and what happens when the store fails
(poison isolation, one log line per failing duty). A mixin of :class:`jobworker.worker.Worker`,
which provides the attributes and the I/O-thread helpers declared below."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from . import lifecycle
from .config import Settings
from .executors import Executors
from .fleet import WorkerRecord
from .lifecycle import Outcome
from .model import Batch, JobProgress, LogEntry, utcnow
from .plugins import Plugins, activate, module_names
from .poison import is_data_error, is_store_failure, one_line
from .serving import PluginWatcher, Serving, reload_plugins
from .store import Store, Transition
from .store.broken import problem_of, unstorable
from .writes import Writes

if TYPE_CHECKING:
    from .worker_claims import Running

__all__ = ["WorkerDuties"]

T = TypeVar("T")


class WorkerDuties:
    """The background duties of a worker (see the module docstring)."""

    # Provided by the worker.
    store: Store
    plugins: Plugins
    settings: Settings
    types: list[str] | None
    worker_id: str
    running: dict[str, Running]
    record: WorkerRecord
    serving: Serving
    executors: Executors
    log: Any
    processed: int
    failed: int
    flush_interval: float
    _kick: asyncio.Event
    _tasks: set[asyncio.Future[Any]]
    _watcher: PluginWatcher | None
    _reload_wanted: bool
    _stopping: bool
    _plugin_modules: Any
    _writes: Writes
    _troubled: dict[str, float]
    _quiet: set[str]

    if TYPE_CHECKING:

        async def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _announce(
            self, transitions: list[Transition], batches: list[Batch] | None = None
        ) -> None: ...

        async def _flush(self) -> None: ...

        def _start_waiting(self) -> None: ...

        def _hand_back_waiting(self, why: str) -> None: ...

        async def _listen(self) -> None: ...

    @property
    def backoff(self) -> lifecycle.Backoff:
        """Retry delays by job type (the handlers' ``backoff``; ``retry_backoff`` for types no
        handler serves): for failed attempts and for jobs recovered from lost workers alike."""
        by_type: dict[str, float] = {}
        for handler in self.plugins.handlers.values():
            for name in (handler.job_type, *handler.aliases):
                by_type[name] = handler.backoff
        return lifecycle.Backoff(self.settings.retry_backoff, by_type)

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
        if cancelled or lost:
            self._start_waiting()  # those claimed ahead end now, without running

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
            await self._repair_batches()
            await self._announce_again()
            await self._sweep_unserved()

    async def _repair_batches(self) -> None:
        """Recount batch counters a lost worker left wrong (only a store writing a job and its
        batch in two writes has any), once no counter moved for two lease lengths: a live
        worker moves them milliseconds after its job write. Batches this finishes are announced
        by :meth:`_announce_again`."""
        now = utcnow()
        stale = now - timedelta(seconds=2 * self.settings.lease_seconds)
        try:
            await self._call(self.store.repair_batches, stale, now)
        except Exception:
            self.log.exception("batch counter repair failed")

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
        self._hand_back_waiting("reload")  # claimed under the old plugins: claimed again
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
        if self.serving.claim_types != before.claim_types:
            await self._listen()  # a change stream filtered by the old types would miss work
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

    async def _wait_kick(self, timeout: float) -> None:
        """Until the next kick, or ``timeout``. Unlike ``wait_for`` no task of its own: the loop
        resumes here one iteration after a wake-up, not three."""
        timer = asyncio.get_running_loop().call_later(timeout, self._kick.set)
        try:
            await self._kick.wait()
        finally:
            timer.cancel()

    def _on_wake(self, notifier: Any) -> None:
        kinds = notifier.drain()  # None: the channel cannot tell new work from a cancel
        if kinds is None or "work" in kinds:
            self._kick.set()
        cancel = kinds is None or "cancel" in kinds
        if cancel and self.running and not self._stopping:  # look at once which to stop
            task = asyncio.ensure_future(self._heartbeat(registry=False))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _isolate_poison(self) -> bool:
        """After a failed round trip, write each job's part alone (see :mod:`.poison`); return
        whether the failure was one job's data (the rest then is written), not the store."""
        parts = self._writes.take_parts()
        if not parts:
            return False
        progressed = False
        for part in parts:
            try:
                await self._write_part(part.outcomes, part.logs, part.progress)
                progressed = True
                continue
            except Exception as exc:
                if not is_data_error(exc):  # the store fails, not this job: keep it for later
                    self._writes.keep(part)
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
        self._quiet.difference_update(o.job_id for o in outcomes)
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
