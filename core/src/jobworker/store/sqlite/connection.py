"""The SQLite store's database file: the connection, write transactions, waiting out
another process's lock in short steps, and the wake-up sockets."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import unquote, urlsplit

from ...lifecycle import Change
from ...model import Batch, Job, LogEntry
from ..base import Store, StoreError
from ..wake import Waker, WakeSocket
from .changes import batch_from_row, change_sql, move_counters
from .rows import SELECT, read_job, text_factory
from .schema import DROPPED_INDEXES, SCHEMA
from .walsync import WalSync

if TYPE_CHECKING:
    import concurrent.futures

    from .apikeys import SQLiteKeys

__all__ = ["SQLiteConnection"]

T = TypeVar("T")


class _WouldWait(Exception):
    """Raised inside :meth:`SQLiteConnection.try_now` where a call would wait for a lock."""


def _unusable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used (read-only, not a database, disk
    full, ...), as opposed to a constraint of the data (duplicate id) or a bug."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError)
    )


class SQLiteConnection(Store):
    """One SQLite file in WAL mode: the connection and transactions of every part."""

    local = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        log_cap: int = 1000,
        busy_timeout_ms: int = 60_000,
        wal_autocheckpoint: int = 10_000,
        group_sync: bool = True,
    ) -> None:
        """``wal_autocheckpoint``: WAL pages after which a commit copies them into the database
        file (SQLite's default is 1,000). Each such checkpoint syncs twice; at 1,000 pages that
        is every 140 one-job submits, a third of a submit's wall time on a busy disk. The WAL
        file grows to about this many pages of 4 KiB before it is reused.

        ``synchronous=FULL`` (or ``EXTRA``) with ``group_sync`` (the default) syncs commits in
        groups, outside the write lock (:mod:`.walsync`); ``group_sync=false`` leaves each
        commit's sync to SQLite, inside the lock."""
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.log_cap = int(log_cap)
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.synchronous = synchronous.upper()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._unusable_error(exc) from exc
        self._conn.text_factory = text_factory  # invalid UTF-8 in one row is that row's problem
        self.busy_timeout_ms = int(busy_timeout_ms)
        mode = self._retry(self._conn.execute, "PRAGMA journal_mode=WAL").fetchone()[0]
        self._walsync: WalSync | None = None
        if group_sync and self.synchronous in ("FULL", "EXTRA") and str(mode).lower() == "wal":
            # the file as SQLite names it (absolute): its WAL is that name and "-wal"
            main = next(r[2] for r in self._conn.execute("PRAGMA database_list") if r[1] == "main")
            self._walsync = WalSync(Path(main))
        pragma = "NORMAL" if self._walsync is not None else self.synchronous
        self._conn.execute(f"PRAGMA synchronous={pragma}")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        self._lock = threading.RLock()
        self._depth = 0
        #: False inside try_now: a locked database raises _WouldWait instead of waiting
        self._waits = True
        # Unix socket paths are limited to 108 bytes: one short folder per database file.
        digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:16]
        self._wake_dir = Path(tempfile.gettempdir()) / f"jobworker-wake-{digest}"
        self._waker = Waker(self._wake_dir)
        # Live views (the HTTP server) listen here; every commit sends them one byte.
        self._watch_dir = Path(tempfile.gettempdir()) / f"jobworker-watch-{digest}"
        self._watchers = Waker(self._watch_dir)

    @staticmethod
    def path_of(url: str) -> Path:
        """The database file a ``sqlite:`` URL names."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path.db
            path = parts.netloc + path
        elif path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        if not path:
            raise StoreError(f"no database path in {url!r}")
        return Path(path)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        known = {"synchronous", "log_cap", "busy_timeout_ms", "wal_autocheckpoint", "group_sync"}
        kwargs = {k: v for k, v in options.items() if k in known}
        if isinstance(kwargs.get("group_sync"), str):  # from a URL's query
            kwargs["group_sync"] = kwargs["group_sync"].lower() not in ("0", "false", "no", "off")
        return cls(cls.path_of(url), **kwargs)

    def init(self) -> None:
        with self._lock:
            for table in ("jobs", "batches"):  # files made before announce_pending existed
                columns = {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}
                if columns and "announce_pending" not in columns:
                    self._retry(
                        self._conn.execute,
                        f"ALTER TABLE {table} ADD COLUMN "
                        f"announce_pending INTEGER NOT NULL DEFAULT 0",
                    )
            self._retry(self._conn.executescript, SCHEMA)
            for index in DROPPED_INDEXES:
                self._retry(self._conn.execute, f"DROP INDEX IF EXISTS {index}")

    def close(self) -> None:
        if self._walsync is not None:
            self._walsync.close()
        with self._lock:
            self._conn.close()
        self._waker.close()
        self._watchers.close()

    def try_now(self, call: Callable[[], T]) -> T | None:
        if not self._lock.acquire(blocking=False):  # another thread's transaction
            return None
        try:
            self._waits = False
            return call()
        except _WouldWait:
            return None
        finally:
            self._waits = True
            self._lock.release()

    def sync_point(self) -> concurrent.futures.Future[None] | None:
        if self._walsync is None:
            return None
        return self._walsync.point()

    @contextlib.contextmanager
    def _tx(self, durable: bool = True, wake: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one.

        With group syncs (:mod:`.walsync`) the outermost one returns once its commit is
        durable, or at once with ``durable=False``: then the caller waits for
        :meth:`sync_point` before anything outside learns what it wrote.

        ``wake``: the transaction adds work; idle workers are woken just before its commit, so
        that their wake-up overlaps it (their claim waits for the write lock, then sees the new
        jobs; a commit that fails after it leaves them a wake-up for nothing). With group syncs
        they are woken once it is durable instead: no worker may see a job before then."""
        commit = 0
        early = wake and self._walsync is None
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                    if wake:
                        self._waker.wake()  # before the outer transaction's commit
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield self._conn
                if early:
                    self._waker.wake()
                self._conn.execute("COMMIT")
                if self._walsync is not None:
                    commit = self._walsync.committed()
            except BaseException as exc:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if _unusable(exc):
                    raise self._unusable_error(exc) from exc
                raise
            finally:
                self._depth = 0
        if durable and commit and self._walsync is not None:
            self._walsync.wait(commit)
        if wake and not early:
            self._waker.wake()
        self._watchers.wake()

    def _unusable_error(self, exc: BaseException) -> StoreError:
        return StoreError(f"the SQLite store {self.path} cannot be used: {exc}")

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting for another process's write lock in short steps.

        SQLite's own busy handler sleeps 1, 2, 5, 10 ... ms between tries, which leaves the
        lock idle most of the time when several workers take turns every fraction of a
        millisecond; so the connection has no busy timeout and :meth:`_retry` polls finely.
        """
        self._retry(self._conn.execute, "BEGIN IMMEDIATE")

    def _retry(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, retried in short steps while the database is locked by another
        process, up to ``busy_timeout_ms`` (the connection itself never waits)."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        delay = 0.0001
        while True:
            try:
                return fn(*args)
            except sqlite3.DatabaseError as exc:
                busy = isinstance(exc, sqlite3.OperationalError) and (
                    "locked" in str(exc) or "busy" in str(exc)
                )
                if busy and not self._waits:  # in try_now: the caller goes elsewhere
                    raise _WouldWait from exc
                if not busy or time.monotonic() > deadline:
                    if _unusable(exc):
                        raise self._unusable_error(exc) from exc
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.005)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._retry(lambda: self._conn.execute(sql, args).fetchall())

    def _job_from_row(self, row: Sequence[Any], logs: list[LogEntry] | None = None) -> Job:
        """The row's job, or its broken stand-in (see :mod:`.broken`)."""
        return read_job(row, logs)

    def _batch_from_row(self, row: Sequence[Any]) -> Batch:
        return batch_from_row(row)

    def _get_in(self, db: sqlite3.Connection, job_id: str) -> Job:
        return self._job_from_row(
            db.execute(f"SELECT {SELECT} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )

    def _write(self, db: sqlite3.Connection, change: Change, where: str, *args: Any) -> None:
        sets, set_args = change_sql(change)
        db.execute(f"UPDATE jobs SET {sets} WHERE {where}", (*set_args, *args))

    def _move_counters(
        self, db: sqlite3.Connection, moves: Sequence[tuple[str | None, str, str]], now_ms: int
    ) -> list[Batch]:
        """Apply counter moves (batch, from status, to status); return batches just finished."""
        return move_counters(db, moves, now_ms)

    def notifier(self, types: Collection[str] | None = None) -> WakeSocket:
        return WakeSocket(self._wake_dir)

    def watcher(self) -> WakeSocket:
        return WakeSocket(self._watch_dir)

    def api_keys(self) -> SQLiteKeys:
        from .apikeys import SQLiteKeys  # here: only serve and keys use them (hmac, secrets)

        return SQLiteKeys(self)

    def _wake(self) -> None:
        self._waker.wake()
