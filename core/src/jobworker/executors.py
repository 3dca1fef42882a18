"""Running one attempt of a handler: in the event loop, in a thread, or in a child process.

Stopping an attempt (timeout, cancellation, lost lease, shutdown) works per executor:

* ``async``: the handler runs in the attempt's task, which is cancelled (``asyncio.CancelledError``
  inside the handler).
* ``process``: the child process is killed with SIGKILL and replaced; nothing of it survives.
* ``thread``: Python cannot kill a thread, so stopping is cooperative: ``ctx.is_cancelled()``
  turns true and the attempt ends at once for the worker, while the thread runs on until the
  handler checks (handlers that loop should call ``ctx.raise_if_cancelled()``). CPU-bound or
  long-blocking handlers should use the process executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, NoReturn

import attrs

from .errors import JobFailure
from .handler import JobContext, JobHandler

__all__ = ["AttemptStopped", "Executors", "RemoteError"]


class AttemptStopped(Exception):
    """The attempt was stopped from outside; ``reason`` is timeout, cancelled, lost or
    shutdown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RemoteError(Exception):
    """An unexpected exception in a child process, carried back as text."""

    def __init__(self, type_name: str, message: str, tb: str) -> None:
        super().__init__(message)
        self.type_name, self.message, self.tb = type_name, message, tb


@attrs.define
class StopSignal:
    """Set by the worker to stop one attempt."""

    event: asyncio.Event = attrs.Factory(asyncio.Event)
    reason: str | None = None
    on_stop: Callable[[], Any] | None = None

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()
        if self.on_stop is not None:
            self.on_stop()


class Executors:
    def __init__(self, *, threads: int, processes: int) -> None:
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jobworker")
        self.processes = ProcessPool(processes)

    async def run(
        self, handler: JobHandler, ctx: JobContext, stop: StopSignal, timeout: float | None
    ) -> Any:
        """Run one attempt; raise :class:`AttemptStopped` if stopped or timed out."""
        loop = asyncio.get_running_loop()
        child: _Child | None = None
        if handler.executor == "async":
            return await self._run_async(handler, ctx, stop, timeout)
        if handler.executor == "thread":
            work: asyncio.Future[Any] = asyncio.ensure_future(
                loop.run_in_executor(self.threads, handler.func, ctx)
            )
        else:
            child = await self.processes.acquire()
            work = asyncio.ensure_future(child.run(handler.func, ctx))
        stopper = asyncio.ensure_future(stop.event.wait())
        try:
            done, _ = await asyncio.wait(
                {work, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            stopper.cancel()
        if work in done:
            if child is not None:
                self.processes.release(child)
            return work.result()
        stop.stop("timeout")  # no-op if a reason was set already
        work.cancel()
        if child is not None:
            self.processes.kill(child)
        raise AttemptStopped(stop.reason or "timeout")

    @staticmethod
    async def _run_async(
        handler: JobHandler, ctx: JobContext, stop: StopSignal, timeout: float | None
    ) -> Any:
        """The handler's coroutine awaited in the caller's own task, which
        :meth:`StopSignal.stop` cancels (the hot path: no task, wait or loop iteration of its
        own per job). A cancellation while no stop was asked for is the caller's own and
        propagates; after a stop it becomes :class:`AttemptStopped`."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Executors.run is awaited outside an asyncio task")
        asked = False

        def cancel() -> None:
            nonlocal asked
            asked = True
            task.cancel()

        stop.on_stop = cancel
        timer = (
            asyncio.get_running_loop().call_later(timeout, stop.stop, "timeout")
            if timeout
            else None
        )
        try:
            return await handler.func(ctx)
        except asyncio.CancelledError:
            if stop.reason is None:  # this attempt itself is being cancelled
                raise
            raise AttemptStopped(stop.reason) from None
        finally:
            stop.on_stop = None
            if timer is not None:
                timer.cancel()
            if asked and hasattr(task, "uncancel"):  # Python 3.11+: the stop's cancel handled
                task.uncancel()

    def close(self) -> None:
        self.processes.close()
        self.threads.shutdown(wait=False, cancel_futures=True)


class ProcessPool:
    """Long-lived child processes (spawned, so no locks are inherited), each running one attempt
    at a time over a pipe; a child that is killed is replaced on demand."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._idle: list[_Child] = []
        self._count = 0
        self._generation = 0  # children of an older generation run old plugin code
        self._freed = asyncio.Condition()
        self._tasks: set[asyncio.Future[None]] = set()

    async def acquire(self) -> _Child:
        async with self._freed:
            while not self._idle and self._count >= self.size:
                await self._freed.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            child = await asyncio.to_thread(_Child.spawn)
            child.generation = self._generation
            return child
        except BaseException:
            self._count -= 1
            raise

    def release(self, child: _Child) -> None:
        if child.alive() and child.generation == self._generation:
            self._idle.append(child)
        else:
            if child.alive():
                child.conn.close()  # it exits on its own
            self._count -= 1
        self._spawn_notify()

    def recycle(self) -> None:
        """Plugins were reloaded: idle children exit now, busy ones after their attempt, and
        new ones are spawned (with the new plugins) on demand."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for child in idle:
            child.conn.close()
            self._count -= 1
        if idle:
            self._spawn_notify()

    def kill(self, child: _Child) -> None:
        child.kill()
        self._count -= 1
        self._spawn_notify()

    def _spawn_notify(self) -> None:
        task = asyncio.ensure_future(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._freed:
            self._freed.notify()

    def close(self) -> None:
        """Idle children exit on their own when their pipe closes (so they clean up);
        stragglers are killed."""
        for child in self._idle:
            child.conn.close()
        for child in self._idle:
            child.process.join(timeout=5)
            if child.process.is_alive():
                child.kill()
        self._idle.clear()


class _Child:
    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.generation = 0

    @classmethod
    def spawn(cls) -> _Child:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_child_main, args=(child,), daemon=True, name="jobworker-child"
        )
        process.start()
        child.close()
        return cls(process, parent)

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
        if self.process.pid and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=5)
        self.conn.close()

    async def run(self, func: Any, ctx: JobContext) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        reporter = ctx.reporter

        def readable() -> None:
            try:
                while self.conn.poll():
                    kind, *payload = self.conn.recv()
                    if kind == "progress":
                        reporter.progress(*payload)
                    elif kind == "log":
                        reporter.log(*payload)
                    elif not done.done():
                        done.set_result((kind, payload))
            except (EOFError, OSError):
                if not done.done():
                    done.set_result(("died", [self.process.exitcode]))

        payload = attrs.evolve(ctx, reporter=_InTransit())  # the reporter stays in this process
        self.conn.send(("run", func, payload))
        fd = self.conn.fileno()
        loop.add_reader(fd, readable)
        try:
            kind, result = await done
        finally:
            loop.remove_reader(fd)
        if kind == "ok":
            return result[0]
        if kind == "fail":
            raise result[0]
        if kind == "error":
            raise RemoteError(*result)
        raise RemoteError(
            "WorkerProcessDied", f"the child process died (exit code {result[0]})", ""
        )


class _InTransit:
    """The reporter of a context on its way to the child process, which attaches its own."""

    def _detached(self) -> NoReturn:
        raise RuntimeError("this context's reporter is attached in the child process")

    def progress(self, percent: int, step: str | None, message: str | None) -> None:
        self._detached()

    def log(self, level: str, message: str) -> None:
        self._detached()

    def is_cancelled(self) -> bool:
        self._detached()


class _PipeReporter:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def progress(self, percent: int, step: str | None, message: str | None) -> None:
        self.conn.send(("progress", percent, step, message))

    def log(self, level: str, message: str) -> None:
        self.conn.send(("log", level, message))

    def is_cancelled(self) -> bool:
        return False  # a stopped attempt's process is killed


def _child_main(conn: Connection) -> None:  # pragma: no cover - runs in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when children stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            _kind, func, ctx = conn.recv()
        except (EOFError, OSError):
            return
        ctx.reporter = _PipeReporter(conn)
        from .plugins import active

        active(ctx.plugin_modules)  # the worker's plugins, for ctx.collect and plugin APIs
        try:
            result = func(ctx)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
            conn.send(("ok", result))
        except JobFailure as exc:
            conn.send(("fail", exc))
        except BaseException as exc:
            conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))
