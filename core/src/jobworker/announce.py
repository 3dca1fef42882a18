"""Announcing committed transitions: the one place that says what a change of a job runs.

For every transition the core's own reactions (webhooks, :mod:`jobworker.webhooks.delivery`)
run first, then the plugins' lifecycle hooks (:mod:`jobworker.hookspecs`): ``job_finished`` for
each job that reached ``completed``/``failed``, then ``batch_finished`` for each batch that
finished in the same write. :func:`announce` returns what it announced, for the store's
outbox (``mark_announced``). The client calls it inline (``Client.cancel``); a worker runs it on
its :class:`HookThreads`, never on its event loop, with a store whose calls go to the
worker's I/O thread (:func:`store_on`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

import structlog

from .model import Batch, Job, JobProgress
from .plugins import Plugins
from .store import Store, Transition
from .webhooks import delivery as webhooks

__all__ = [
    "HookThreads",
    "announce",
    "announce_progress",
    "announce_started",
    "store_on",
    "when_durable",
]

T = TypeVar("T")
log = structlog.get_logger("jobworker.hooks")


def _core(reaction: Callable[..., None], **kwargs: Any) -> None:
    try:
        reaction(**kwargs)
    except Exception:  # like a hook: logged, never fatal to the job or the caller
        log.exception("webhook reaction failed", reaction=reaction.__name__)


def announce(
    plugins: Plugins,
    store: Store,
    transitions: Iterable[Transition] = (),
    batches: Iterable[Batch] = (),
) -> tuple[list[str], list[str]]:
    """Run the reactions to committed ``transitions`` (and to ``batches`` found finished but not
    announced); return ``(job_ids, batch_ids)`` announced."""
    transitions = list(transitions)
    jobs: list[str] = []
    finished = list(batches)
    for t in transitions:
        if t.status.terminal:
            _core(webhooks.job_finished, job=t.job, store=store)
            plugins.notify("job_finished", job=t.job, store=store)
            jobs.append(t.job_id)
    finished += [t.batch_finished for t in transitions if t.batch_finished is not None]
    for batch in finished:  # after every job of the same write
        _core(webhooks.batch_finished, batch=batch, store=store)
        plugins.notify("batch_finished", batch=batch, store=store)
    return jobs, [b.batch_id for b in finished]


def announce_started(plugins: Plugins, store: Store, job: Job) -> None:
    """The plugins' ``job_started`` hooks (the core's part, in memory, runs before: see
    :func:`jobworker.webhooks.delivery.job_started`)."""
    plugins.notify("job_started", job=job, store=store)


def announce_progress(
    plugins: Plugins, store: Store, written: Iterable[tuple[Job, JobProgress]]
) -> None:
    """Jobs' progress was written: webhooks' progress events, then ``job_progress`` hooks."""
    observed = plugins.observes("job_progress")
    for job, progress in written:
        _core(webhooks.job_progress, job=job, progress=progress, store=store)
        if observed:
            plugins.notify("job_progress", job=job, progress=progress, store=store)


async def when_durable(point: Future[None], coro: Coroutine[Any, Any, T]) -> T | None:
    """``coro``'s result once ``point`` (:meth:`Store.sync_point`) is done; if the writes could
    not be made durable, ``None`` without running it (what it would have announced stays
    unannounced in the store, for the sweep that announces again)."""
    try:
        await asyncio.wrap_future(point)
    except Exception:
        coro.close()
        log.exception("not announced: the store could not make the writes durable")
        return None
    return await coro


class _StoreOn:
    """Forwards every method call of a store to ``executor`` and waits for its result."""

    def __init__(self, store: Store, executor: Executor, thread_prefix: str) -> None:
        self._store, self._executor, self._prefix = store, executor, thread_prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name.startswith(self._prefix):
                return attr(*args, **kwargs)  # already there (no self-deadlock)
            return self._executor.submit(attr, *args, **kwargs).result()

        return call

    def __repr__(self) -> str:
        return f"<{self._store!r} through {self._prefix}>"


def store_on(store: Store, executor: Executor, thread_prefix: str) -> Store:
    """``store`` with every call run on ``executor`` (whose threads are named ``thread_prefix``
    ...), for hooks that run on other threads: a worker's store calls stay on its I/O thread."""
    # A duck-typed stand-in: it has every attribute of the store it forwards to.
    return cast(Store, _StoreOn(store, executor, thread_prefix))


class HookThreads:
    """Runs lifecycle hooks off the event loop, on one hook thread, in the order they were
    asked for (a job's ``job_started`` before its ``job_finished``).

    :meth:`run` waits for a call at most ``limit`` seconds; a call still running then is logged
    (an error) and no longer waited for: a thread cannot be stopped, so it finishes in the
    background (later hooks wait for it), and what it was announcing is not marked announced
    (the worker's sweep announces it again later). Each slow hook is logged by
    :meth:`jobworker.plugins.Plugins.notify`.
    """

    def __init__(self, *, limit: float) -> None:
        self.limit = limit
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobworker-hooks")

    async def run(self, what: str, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)`` on a hook thread; its result, or ``None`` if it raised or overran."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.limit)
        except asyncio.TimeoutError:
            log.error(
                "lifecycle hooks overran their time limit; no longer waited for",
                hooks=what,
                limit=self.limit,
            )
        except Exception:
            log.exception("lifecycle hooks failed", hooks=what)
        return None

    def close(self) -> None:
        """Stop taking calls; calls that overran finish in the background."""
        self._pool.shutdown(wait=False)
