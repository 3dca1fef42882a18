"""Waking idle workers from a MongoDB change stream.

:class:`ChangeStreamNotifier` watches the jobs collection for inserts and for updates that make
a job pending or ask for a cancel, and makes a pipe readable for each. The worker selects on
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

__all__ = ["ChangeStreamNotifier"]

log = logging.getLogger(__name__)

# Inserts, and updates that make work available (status back to pending) or ask for a cancel.
PIPELINE: list[dict[str, Any]] = [
    {
        "$match": {
            "$or": [
                {"operationType": {"$in": ["insert", "replace"]}},
                {"updateDescription.updatedFields.status": "pending"},
                {"updateDescription.updatedFields.cancel_requested": True},
            ]
        }
    }
]


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

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read_fd, 4096):
                pass

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

    def _poke(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write_fd, b"!")

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
                if self._stream.try_next() is not None:
                    self._poke()
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
