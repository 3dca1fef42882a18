"""The worker's announcements: what runs when the store has committed a transition (hooks and
webhooks on the hook thread, once the writes are durable), the ends nothing reacts to (marked
without a thread hand-off, or written announced in the first place), and waiting for the hooks
still running. A mixin of :class:`jobworker.worker.Worker`, which provides the attributes
declared below."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .announce import HookThreads, announce, when_durable
from .model import Batch
from .plugins import Plugins
from .store import Store, Transition
from .writes import Writes

__all__ = ["WorkerHooks"]


class WorkerHooks:
    """Announcing committed transitions (see the module docstring)."""

    # Provided by the worker.
    store: Store
    hook_store: Store
    plugins: Plugins
    log: Any
    _hooks: HookThreads
    _writes: Writes
    _quiet: set[str]
    _hook_tasks: set[asyncio.Future[Any]]

    if TYPE_CHECKING:

        async def _flush(self) -> None: ...

    def _announce(self, transitions: list[Transition], batches: list[Batch] | None = None) -> None:
        """Run the reactions to committed transitions (:func:`jobworker.announce.announce`) on
        the hook threads; what they announced is marked in the store by a later round trip."""
        batches = list(batches or ())
        if not batches and not any(
            t.status.terminal or t.batch_finished is not None for t in transitions
        ):
            return
        transitions = self._quietly_finished(transitions)
        if not batches and not transitions:
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
                self._writes.announced(done[0], done[1])

        self._track(run())

    def _quietly_finished(self, transitions: list[Transition]) -> list[Transition]:
        """Leave out the ends :func:`announce` would react to with nothing (no hook
        implemented, no webhook, no batch: known when the job started), whose outcomes were
        written already announced (``Outcome.announce``); return the other transitions. Saves
        a thread hand-off per round trip. (An end whose outcome was written while a hook
        observed ends, during a plugin reload, is announced by the sweep of ends left
        unannounced.)"""
        if self._ends_observed():
            return transitions
        rest: list[Transition] = []
        for t in transitions:
            if t.batch_finished is None and t.job_id in self._quiet:
                self._quiet.discard(t.job_id)
            else:
                rest.append(t)
        return rest

    def _ends_observed(self) -> bool:
        return self.plugins.observes("job_finished") or self.plugins.observes("batch_finished")

    def _spawn_hooks(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        self._track(self._hooks.run(what, fn, *args))

    def _track(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` (hooks announcing what the store wrote) once those writes are durable
        (:meth:`Store.sync_point`), as a task awaited by :meth:`_drain_hooks`."""
        point = self.store.sync_point()
        task = asyncio.ensure_future(coro if point is None else when_durable(point, coro))
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
