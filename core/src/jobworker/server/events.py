"""Live updates as Server-Sent Events, fed by the store's own change wake-ups.

One :class:`ChangeHub` per server waits on :meth:`jobworker.Client.watcher` (the SQLite store's
per-commit wake-up socket, MongoDB's change stream) in one thread and wakes every open event
stream; each stream then re-reads only what it shows. Clients never poll. When the store cannot
announce changes (MongoDB without change streams, such as a standalone server) the hub ticks
every ``poll_seconds`` instead: one loop for the whole server, however many streams are open.

Streams: ``/v1/jobs/{id}/events`` (events ``job`` with status and progress, ``log`` per new
log entry, ``end`` when finished), ``/v1/jobs/{id}/logs/follow`` (only ``log`` and ``end``),
``/v1/batches/{id}/events`` (``batch`` counters, ``end``) and ``/v1/fleet/events`` (``fleet``:
workers, and job counts by status for admin keys). A ``: keep-alive`` comment goes out
every 15 s of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from litestar import Request, Router, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ..client import Client
from ..views import job_view
from .api_jobs import owned_batch, owned_job
from .api_meta import fleet_view
from .auth import principal_of, scope
from .errors import documented

__all__ = ["ChangeHub", "events_router"]

Req = Request[Any, Any, Any]
KEEP_ALIVE = 15.0


class ChangeHub:
    """Turns the store's change wake-ups into an asyncio event that streams await."""

    def __init__(self, client: Client, poll_seconds: float, coalesce: float = 0.1) -> None:
        self.client, self.poll_seconds, self.coalesce = client, poll_seconds, coalesce
        self.version = 0
        self.live = False  # True when fed by the store's own wake-ups (not the timer)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="jobworker-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _bump(self) -> None:
        self.version += 1
        if self._event is not None:
            self._event.set()
            self._event = asyncio.Event()

    def _run(self) -> None:
        watcher = self.client.watcher()
        self.live = watcher is not None
        try:
            while not self._stop.is_set():
                if watcher is None:
                    self._stop.wait(self.poll_seconds)
                else:
                    ready, _, _ = select.select([watcher], [], [], 1.0)
                    if not ready:
                        continue
                    watcher.drain()
                if self._loop is not None and not self._stop.is_set():
                    with contextlib.suppress(RuntimeError):  # the loop closed
                        self._loop.call_soon_threadsafe(self._bump)
                self._stop.wait(self.coalesce)  # many commits, one wake-up
        finally:
            if watcher is not None:
                watcher.close()

    async def wait(self, timeout: float) -> bool:
        """Until the next change (``True``) or ``timeout`` seconds (``False``)."""
        event = self._event
        if event is None:
            await asyncio.sleep(timeout)
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


def _hub(request: Req) -> ChangeHub:
    hub: ChangeHub = request.app.state.hub
    return hub


def _message(event: str, data: Any) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(data, default=str), event=event)


async def _stream(
    hub: ChangeHub, read: Callable[[], tuple[list[ServerSentEventMessage], bool]]
) -> AsyncIterator[ServerSentEventMessage]:
    """Re-read after every change; send what ``read`` returns until it says finished."""
    while True:
        messages, finished = await anyio.to_thread.run_sync(read)
        for message in messages:
            yield message
        if finished:
            yield _message("end", {})
            return
        if not await hub.wait(KEEP_ALIVE) and not messages:
            yield ServerSentEventMessage(comment="keep-alive")


def _job_state(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("job_id", "status", "progress", "error", "updated_at", "cancel_requested", "attempts")
    return {k: view.get(k) for k in keys}


@get("/jobs/{job_id:str}/events", guards=[scope("read")], sync_to_thread=True)
def job_events(request: Req, job_id: str, logs_from: int = 0) -> ServerSentEvent:
    """A job's status, progress and log entries (from the ``logs_from``-th) as they happen."""
    return _job_stream(request, job_id, logs_from, with_state=True)


@get("/jobs/{job_id:str}/logs/follow", guards=[scope("read")], sync_to_thread=True)
def follow_logs(request: Req, job_id: str, logs_from: int = 0) -> ServerSentEvent:
    """The follow mode of ``/logs``: one ``log`` event per entry (from the ``logs_from``-th),
    as they are written, then ``end`` when the job has finished."""
    return _job_stream(request, job_id, logs_from, with_state=False)


def _job_stream(request: Req, job_id: str, logs_from: int, *, with_state: bool) -> ServerSentEvent:
    owned_job(request, job_id)
    client: Client = request.app.state.client
    sent: dict[str, Any] = {"state": None, "logs": max(0, logs_from)}

    def read() -> tuple[list[ServerSentEventMessage], bool]:
        job = client.store.get_job(job_id)
        if job is None:
            return [], True
        view = job_view(job)
        out = []
        state = _job_state(view)
        if with_state and state != sent["state"]:
            sent["state"] = state
            out.append(_message("job", state))
        logs = view["logs"]
        start = sent["logs"] if sent["logs"] <= len(logs) else 0  # capped logs rolled over
        out += [_message("log", entry) for entry in logs[start:]]
        sent["logs"] = len(logs)
        return out, job.status.terminal

    return ServerSentEvent(_stream(_hub(request), read))


@get("/batches/{batch_id:str}/events", guards=[scope("read")], sync_to_thread=True)
def batch_events(request: Req, batch_id: str) -> ServerSentEvent:
    """A batch's counters and percent as its jobs finish."""
    owned_batch(request, batch_id)
    client: Client = request.app.state.client
    last: list[Any] = [None]

    def read() -> tuple[list[ServerSentEventMessage], bool]:
        batch = client.batch(batch_id)
        if batch is None:
            return [], True
        state = {
            "batch_id": batch.batch_id,
            "status": batch.status,
            "percent": batch.percent,
            **{
                k: getattr(batch, k)
                for k in (
                    "total_jobs",
                    "completed_jobs",
                    "failed_jobs",
                    "pending_jobs",
                    "processing_jobs",
                )
            },
        }
        if state == last[0]:
            return [], batch.finished
        last[0] = state
        return [_message("batch", state)], batch.finished

    return ServerSentEvent(_stream(_hub(request), read))


@get("/fleet/events", guards=[scope("read")], sync_to_thread=True)
def fleet_events(request: Req) -> ServerSentEvent:
    """Job counts by status over the whole store (``admin`` only) and the live workers'
    states and counters, as they change (a worker's heartbeat is a change too)."""
    client: Client = request.app.state.client
    admin = principal_of(request).admin
    last: list[Any] = [None]

    def read() -> tuple[list[ServerSentEventMessage], bool]:
        workers = [
            {k: w[k] for k in ("worker_id", "state", "running", "processed", "failed")}
            for w in fleet_view(client, admin=False)
        ]
        state = {"counts": client.counts() if admin else None, "workers": workers}
        if state == last[0]:
            return [], False
        last[0] = state
        return [_message("fleet", state)], False

    return ServerSentEvent(_stream(_hub(request), read))


events_router = Router(
    path="/v1",
    route_handlers=documented([job_events, follow_logs, batch_events, fleet_events]),
    tags=["events"],
)
