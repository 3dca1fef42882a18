"""Group commit for ``synchronous=FULL``: commits at ``NORMAL``, then one ``fdatasync`` of the
write-ahead log for every commit made before it began, on a thread of its own.

SQLite's ``FULL`` syncs the WAL inside each commit, while the write lock is held: every other
writer, in this process or another, waits for the disk, and a commit of eight finished jobs
costs a sync (2 to 3 ms on a common disk). Here the connection runs at ``NORMAL`` and
:class:`WalSync` syncs the WAL file after commits instead, outside the lock. One sync makes
every commit that returned before it began durable (the page cache is per file, whoever wrote
it), so the commits of all threads and processes that land during a sync share the next one.

A commit counts through :meth:`WalSync.committed`; :meth:`WalSync.wait` blocks until a sync
has covered it (a submit returns only then), :meth:`WalSync.point` is a future for the same
(the worker announces a round trip's transitions only once it is done). Checkpoints keep
SQLite's own ``NORMAL`` syncs: the WAL before its frames are copied, the database file after.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..base import StoreError

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["WalSync"]

#: ``fdatasync`` where the platform has it (not macOS), else ``fsync``
_datasync = getattr(os, "fdatasync", os.fsync)

#: At most this many seconds between a commit and its sync when nobody waits for it.
MAX_DELAY = 0.05


class WalSync:
    """Syncs ``<database>-wal`` for the commits counted so far, one sync for all of them: at
    once when a caller waits for one (:meth:`wait`, :meth:`point`), else at most
    :data:`MAX_DELAY` seconds after the first commit not synced yet (a worker's round trips
    that nothing waits for: a sync per round trip would only cost CPU on a fast disk)."""

    def __init__(self, database: Path) -> None:
        self._wal = Path(f"{database}-wal")
        self._cond = threading.Condition()
        self._committed = 0  # commits counted
        self._synced = 0  # commits covered by a finished sync
        self._unsynced_since = 0.0  # when the first commit after the last sync was counted
        self._blocked = 0  # callers in wait()
        self._waiters: list[tuple[int, concurrent.futures.Future[None]]] = []
        self._error: StoreError | None = None
        self._closed = False
        self._fd: int | None = None
        self._thread: threading.Thread | None = None

    def committed(self) -> int:
        """Count a commit that has returned; its number, for :meth:`wait`."""
        with self._cond:
            if self._committed == self._synced:  # the sync thread may be idle: arm its timer
                self._unsynced_since = time.monotonic()
                self._cond.notify_all()
            self._committed += 1
            alive = self._thread is not None and self._thread.is_alive()  # (not after a fork)
            if not alive and self._error is None:
                self._thread = threading.Thread(
                    target=self._run, name="jobworker-walsync", daemon=True
                )
                self._thread.start()
            return self._committed

    def wait(self, commit: int) -> None:
        """Block until commit number ``commit`` is durable.

        :raises StoreError: a sync failed (the commit may be lost on a power cut)."""
        with self._cond:
            self._blocked += 1
            self._cond.notify_all()
            try:
                while self._synced < commit and self._error is None:
                    self._cond.wait()
            finally:
                self._blocked -= 1
            if self._synced < commit and self._error is not None:
                raise self._error

    def point(self) -> concurrent.futures.Future[None] | None:
        """A future done once every commit counted so far is durable (``None``: they are)."""
        with self._cond:
            if self._synced >= self._committed:
                return None
            from concurrent.futures import Future  # here: a submit needs none (nor logging)

            future: concurrent.futures.Future[None] = Future()
            if self._error is not None:
                future.set_exception(self._error)
            else:
                self._waiters.append((self._committed, future))
                self._cond.notify_all()
            return future

    def close(self) -> None:
        """Sync what is left, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _due(self) -> float:
        """Seconds until the next sync is due (0: now), under the lock."""
        if self._closed or self._blocked or self._waiters:
            return 0.0
        return self._unsynced_since + MAX_DELAY - time.monotonic()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._synced >= self._committed and not self._closed:
                    self._cond.wait()
                if self._synced >= self._committed:
                    return  # closed, nothing left
                while (due := self._due()) > 0:
                    self._cond.wait(due)
                target = self._committed
            try:
                self._sync()
            except Exception as exc:  # OSError; anything else must not hang the waiters either
                error = StoreError(f"could not sync the SQLite write-ahead log {self._wal}: {exc}")
                with self._cond:
                    self._error = error
                    waiters, self._waiters = self._waiters, []
                    self._cond.notify_all()
                for _, future in waiters:
                    future.set_exception(error)
                return
            with self._cond:
                self._synced = target
                if self._committed > target:  # commits during the sync: the next one is due
                    self._unsynced_since = time.monotonic()
                done = [f for n, f in self._waiters if n <= target]
                self._waiters = [(n, f) for n, f in self._waiters if n > target]
                self._cond.notify_all()
            for future in done:
                future.set_result(None)

    def _sync(self) -> None:
        """``fdatasync`` the WAL file, reopened if it was replaced since the last sync (the
        last connection to close deletes it; the next one makes a new one). The database file
        itself is never opened here: closing a descriptor of it would drop SQLite's locks."""
        try:
            current = os.stat(self._wal).st_ino
        except FileNotFoundError:  # not expected while the store is open: sync everything
            os.sync()
            return
        if self._fd is not None and os.fstat(self._fd).st_ino != current:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = os.open(self._wal, os.O_RDONLY)
        _datasync(self._fd)
