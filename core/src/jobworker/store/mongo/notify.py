"""Waking idle workers from a MongoDB change stream.

:class:`ChangeStreamNotifier` watches the jobs collection for inserts (of the worker's types
only, when it has types) and for updates that make a job pending or ask for a cancel, and makes
a pipe readable. Wake-ups are coalesced: however many events arrive before the worker drains
the pipe, it holds at most one byte per kind, and :meth:`~ChangeStreamNotifier.drain` says which
kinds came: ``work`` (an idle worker claims) or ``cancel`` (a busy worker heartbeats at once to
learn which of its jobs to stop), so a busy worker is not made to heartbeat by every insert and
an idle one does not claim on a cancel. The worker selects on
:meth:`~ChangeStreamNotifier.fileno` next to its poll timer, so polling stays the safety net:
if the stream breaks (failover, network), the thread writes to the pipe (the worker polls once),
reopens the stream and carries on. Change streams need a replica set or sharded cluster; on a
standalone server (or a server without them) :meth:`open` returns ``None`` and workers poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import PyMongoError

__all__ = ["CANCEL", "WORK", "ChangeStreamNotifier", "kind_of", "wake_pipeline"]

log = logging.getLogger(__name__)

WORK, CANCEL = "work", "cancel"
_BYTES = {WORK: b"w", CANCEL: b"c"}


def wake_pipeline(type_values: list[Any] | None = None) -> list[dict[str, Any]]:
    """Inserts (of these stored ``job_type`` values, if given), updates that make a job
    pending again (retry, release, lease recovery: of any type, since an update event carries
    no ``job_type`` without a per-event document lookup) and cancel requests."""
    insert: dict[str, Any] = {"operationType": {"$in": ["insert", "replace"]}}
    if type_values is not None:
        insert["fullDocument.job_type"] = {"$in": type_values}
    return [
        {
            "$match": {
                "$or": [
                    insert,
                    {"updateDescription.updatedFields.status": "pending"},
                    {"updateDescription.updatedFields.cancel_requested": True},
                ]
            }
        }
    ]


PIPELINE = wake_pipeline()


def kind_of(event: Any) -> str:
    """``cancel`` for a cancel request, else ``work``."""
    fields = ((event or {}).get("updateDescription") or {}).get("updatedFields") or {}
    if fields.get("cancel_requested") is True and fields.get("status") != "pending":
        return CANCEL
    return WORK


class ChangeStreamNotifier:
    """A pipe that becomes readable when the jobs collection changes in a way that matters."""

    def __init__(
        self,
        collection: Collection[Any],
        stream: Any,
        max_await_ms: int = 500,
        pipeline: list[dict[str, Any]] | None = None,
    ) -> None:
        self._collection = collection
        self._pipeline = PIPELINE if pipeline is None else pipeline
        self._stream = stream
        self._max_await_ms = max_await_ms
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobworker-mongo-watch", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls,
        collection: Collection[Any],
        max_await_ms: int = 500,
        pipeline: list[dict[str, Any]] | None = None,
    ) -> ChangeStreamNotifier | None:
        """Start watching (``pipeline`` default: changes that make work available), or
        ``None`` when the deployment has no change streams."""
        pipeline = PIPELINE if pipeline is None else pipeline
        try:
            stream = collection.watch(pipeline, max_await_time_ms=max_await_ms)
        except PyMongoError as exc:
            log.info("no change streams on this MongoDB (%s): workers will poll", exc)
            return None
        return cls(collection, stream, max_await_ms, pipeline)

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> set[str]:
        """Empty the pipe; return the kinds of wake-up that came (``work``, ``cancel``)."""
        data = b""
        with self._lock:
            with contextlib.suppress(BlockingIOError, OSError):
                while chunk := os.read(self._read_fd, 4096):
                    data += chunk
            self._pending.clear()
        kinds = {kind for kind, byte in _BYTES.items() if byte in data}
        return kinds | ({WORK, CANCEL} if b"!" in data else set())

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Stop watching and close the pipe (idempotent: the fds are closed only once)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            if self._stream is not None:
                self._stream.close()
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _poke(self, kind: str | None = None) -> None:
        """Make the pipe readable for ``kind`` (``None``: anything may have happened), unless
        a wake-up of that kind is already waiting to be drained (coalescing)."""
        key = kind or "!"
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._write_fd, _BYTES.get(key, b"!"))

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                if self._stream is None:
                    self._stream = self._collection.watch(
                        self._pipeline, max_await_time_ms=self._max_await_ms
                    )
                    self._poke()  # anything missed while the stream was down: poll once
                    delay = 0.5
                event = self._stream.try_next()
                if event is not None:
                    self._poke(kind_of(event))
            except PyMongoError as exc:
                if self._stop.is_set():
                    break
                log.warning("change stream interrupted (%s); reopening in %.1fs", exc, delay)
                with contextlib.suppress(Exception):
                    self._stream.close()
                self._stream = None
                self._poke()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
