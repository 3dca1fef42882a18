"""The embedded store: one SQLite file in WAL mode, safe for many processes on one machine.

Claims, terminal transitions and batch counters each run in one ``BEGIN IMMEDIATE`` transaction,
so two workers never hold one job. Durability is the ``synchronous`` option: ``NORMAL`` (default)
loses nothing when a process crashes but a power loss can drop the last commits; ``FULL`` fsyncs
every commit (about 100x slower on this machine's disk). The worker batches its writes (claims of
several jobs, outcomes of several attempts in one transaction), which keeps ``FULL`` affordable.

Idle workers are woken by a datagram on a Unix socket per worker in a folder named after the
database (``$TMPDIR/jobworker-wake-<hash of its path>/``): every commit
that makes work available (enqueue, retry, cancel) sends one, so a new job is picked up in
milliseconds without polling.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from .. import errors, lifecycle
from ..fleet import WorkerRecord
from ..lifecycle import Backoff, Change
from ..model import (
    Batch,
    Job,
    JobError,
    JobProgress,
    JobStatus,
    LogEntry,
    LogLevel,
    job_type_of,
    utcnow,
)
from ._codec import dumps, from_ms, to_ms
from .base import Claim, Outcome, Purged, Store, StoreError, Transition
from .broken import problem_of, quarantine_error, storable_text, unstorable
from .imported import check_importable
from .sizes import cut
from .sqlite_apikeys import SQLiteKeys
from .sqlite_changes import BATCH_COLS, attach_batches, batch_from_row, change_sql, move_counters
from .sqlite_registry import (
    delete_before,
    next_due_sql,
    pending_types,
    select_workers,
    upsert_worker,
)
from .sqlite_rows import (
    JOB_COLS,
    JSON_COLS,
    SELECT,
    TIME_COLS,
    BadText,
    decode_job,
    read_job,
    row_value,
    text_factory,
)
from .sqlite_schema import DROPPED_INDEXES
from .sqlite_schema import SCHEMA as _SCHEMA
from .wake import Waker, WakeSocket

__all__ = ["SQLiteStore"]

log = logging.getLogger("jobworker.store")

T = TypeVar("T")

_TIME_COLS, _JSON_COLS, _JOB_COLS, _SELECT = TIME_COLS, JSON_COLS, JOB_COLS, SELECT
_BATCH_COLS = BATCH_COLS
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join((*JOB_COLS, 'doc'))}) "
    f"VALUES ({', '.join('?' * (len(JOB_COLS) + 1))})"
)


def _extended_date(value: Any) -> Any:
    """``{"$date": "<ISO 8601>"}`` as a datetime; anything else as it is."""
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("$date"), str):
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(value["$date"].replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return value


def _listing_filter(
    id_col: str, owner: str | None, after: tuple[datetime, str] | None
) -> tuple[list[str], list[Any]]:
    """WHERE parts shared by the listings: the owner (an extra field inside ``doc``) and the
    keyset cursor over ``(created_at, id)`` descending."""
    where: list[str] = []
    args: list[Any] = []
    if owner is not None:
        where.append("json_extract(doc, '$.owner_key') = ?")
        args.append(owner)
    if after is not None:
        where.append(f"(created_at < ? OR (created_at = ? AND {id_col} < ?))")
        args += [to_ms(after[0]), to_ms(after[0]), after[1]]
    return where, args


def _unusable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used (read-only, not a database, disk
    full, ...), as opposed to a constraint of the data (duplicate id) or a bug."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError)
    )


class SQLiteStore(Store):
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        log_cap: int = 1000,
        busy_timeout_ms: int = 60_000,
    ) -> None:
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
        self._retry(self._conn.execute, "PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={self.synchronous}")
        self._lock = threading.RLock()
        self._depth = 0
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
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        known = {"synchronous", "log_cap", "busy_timeout_ms"}
        return cls(cls.path_of(url), **{k: v for k, v in options.items() if k in known})

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
            self._retry(self._conn.executescript, _SCHEMA)
            for index in DROPPED_INDEXES:
                self._retry(self._conn.execute, f"DROP INDEX IF EXISTS {index}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self._waker.close()
        self._watchers.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if _unusable(exc):
                    raise self._unusable_error(exc) from exc
                raise
            finally:
                self._depth = 0
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
                if not busy or time.monotonic() > deadline:
                    if _unusable(exc):
                        raise self._unusable_error(exc) from exc
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.005)

    def exchange(
        self, worker_id: str, now: datetime, **work: Any
    ) -> tuple[list[Transition], list[Job]]:
        """Logs, progress, outcomes and the next claim in one transaction (one commit)."""
        with self._tx():
            return super().exchange(worker_id, now, **work)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._retry(lambda: self._conn.execute(sql, args).fetchall())

    # -- rows <-> model ----------------------------------------------------------------------

    def _job_row(self, job: Job) -> dict[str, Any]:
        doc = job.to_dict()
        row = {k: doc.pop(k, None) for k in _JOB_COLS}
        doc.pop("logs", None)
        row["status"] = job.status.value
        row["cancel_requested"] = int(job.cancel_requested)
        row["announce_pending"] = int(job.announce_pending)
        for col in _TIME_COLS:
            row[col] = to_ms(getattr(job, col))
        row["available_at"] = row["available_at"] or row["created_at"]
        for col in _JSON_COLS:
            row[col] = None if row[col] is None else dumps(row[col])
        row["doc"] = dumps(doc)
        return row

    def _job_from_row(self, row: Sequence[Any], logs: list[LogEntry] | None = None) -> Job:
        """The row's job, or its broken stand-in (see :mod:`.broken`)."""
        return read_job(row, logs)

    def _batch_from_row(self, row: Sequence[Any]) -> Batch:
        return batch_from_row(row)

    # -- submitting and reading ------------------------------------------------------------

    def enqueue(self, jobs: Sequence[Job], batch: Batch | None = None) -> list[Job]:
        stored: list[Job] = []
        added = 0
        rows: list[Job] = []  # new jobs not inserted yet: one executemany per run of them
        with self._tx() as db:
            for job in jobs:
                if job.idempotency_key:
                    self._insert_jobs(db, rows)  # an earlier job of this call may hold the key
                    rows = []
                    hit = db.execute(
                        f"SELECT {_SELECT} FROM jobs WHERE idempotency_key = ?",
                        (job.idempotency_key,),
                    ).fetchone()
                    if hit:
                        stored.append(self._job_from_row(hit))
                        continue
                if batch is not None:
                    job.batch_id = batch.batch_id
                rows.append(job)
                stored.append(job)
                added += 1
            self._insert_jobs(db, rows)
            if batch is not None:
                exists = db.execute(
                    "SELECT 1 FROM batches WHERE batch_id = ?", (batch.batch_id,)
                ).fetchone()
                if exists and added:  # it grows, and is processing again
                    grown = lifecycle.batch_grown(added)
                    reopened = {**lifecycle.BATCH_REOPENED, "completed_at": None}
                    sets = [f"{k} = {k} + ?" for k in grown] + [f"{k} = ?" for k in reopened]
                    db.execute(
                        f"UPDATE batches SET {', '.join(sets)}, updated_at = ? WHERE batch_id = ?",
                        (*grown.values(), *reopened.values(), to_ms(utcnow()), batch.batch_id),
                    )
                elif not exists:
                    batch.total_jobs = batch.pending_jobs = added
                    self._insert_batch(db, batch)
        self._wake()
        return stored

    def _insert_jobs(self, db: sqlite3.Connection, jobs: Sequence[Job]) -> None:
        """Insert new jobs with one prepared statement (a submit_batch of thousands costs one
        ``executemany``); a duplicate id raises :class:`StoreError` naming it."""
        if not jobs:
            return
        db.execute("SAVEPOINT insert_jobs")
        try:
            db.executemany(_INSERT_JOB, [tuple(self._job_row(job).values()) for job in jobs])
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK TO insert_jobs")
            db.execute("RELEASE insert_jobs")
            seen: set[str] = set()
            for job in jobs:  # which one: it is in the store already, or twice in this call
                taken = db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job.job_id,))
                if job.job_id in seen or taken.fetchone():
                    raise StoreError(f"job {job.job_id} already exists") from exc
                seen.add(job.job_id)
            raise
        db.execute("RELEASE insert_jobs")

    def _insert_batch(self, db: sqlite3.Connection, batch: Batch) -> None:
        doc = batch.to_dict()
        row = [doc.pop(c, None) for c in _BATCH_COLS]
        for i, col in enumerate(_BATCH_COLS):
            if col in ("created_at", "updated_at", "completed_at"):
                row[i] = to_ms(row[i])
            elif col == "announce_pending":
                row[i] = int(bool(row[i]))
        try:
            db.execute(
                f"INSERT INTO batches ({', '.join(_BATCH_COLS)}, doc) "
                f"VALUES ({', '.join('?' * (len(_BATCH_COLS) + 1))})",
                (*row, dumps(doc)),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"batch {batch.batch_id} already exists") from exc

    def import_documents(
        self, jobs: Iterable[Mapping[str, Any]], batches: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        jobs = check_importable(jobs)  # documents posing as jobworker's own jobs: refused
        with self._tx() as db:
            for doc in batches:
                self._insert_batch(db, Batch.from_dict(doc))
            for doc in jobs:
                # Extended JSON dates of top-level fields (legacy ``started_at``, ...) are dates;
                # nested values are user data and stay exactly as they are.
                job = Job.from_dict({k: _extended_date(v) for k, v in doc.items()})
                self._insert_jobs(db, [job])
                for entry in job.logs:
                    db.execute(
                        "INSERT INTO logs (job_id, ts, level, message) VALUES (?,?,?,?)",
                        (job.job_id, to_ms(entry.timestamp), entry.level.value, entry.message),
                    )
        self._wake()

    def get_job(self, job_id: str, *, with_logs: bool = True) -> Job | None:
        rows = self._query(f"SELECT {_SELECT} FROM jobs WHERE job_id = ?", (job_id,))
        if not rows:
            return None
        logs = None
        if with_logs:
            logs = [
                LogEntry(from_ms(ts), LogLevel.parse(level), msg)
                for ts, level, msg in self._query(
                    "SELECT ts, level, message FROM logs WHERE job_id = ? ORDER BY id", (job_id,)
                )
            ]
        return self._job_from_row(rows[0], logs)

    def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        job_type: str | None = None,
        batch_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        owner: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Job]:
        where, args = _listing_filter("job_id", owner, after)
        for cond, value in (
            ("status = ?", status and JobStatus(status).value),
            ("job_type = ?", job_type),
            ("batch_id = ?", batch_id),
            ("created_at >= ?", to_ms(created_from)),
            ("created_at < ?", to_ms(created_to)),
        ):
            if value is not None:
                where.append(cond)
                args.append(value)
        sql = f"SELECT {_SELECT} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, job_id DESC LIMIT ? OFFSET ?"
        return [self._job_from_row(r) for r in self._query(sql, (*args, limit, offset))]

    def get_batch(self, batch_id: str) -> Batch | None:
        rows = self._query(
            f"SELECT {', '.join(_BATCH_COLS)}, doc FROM batches WHERE batch_id = ?", (batch_id,)
        )
        return self._batch_from_row(rows[0]) if rows else None

    def list_batches(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        status: str | None = None,
        owner: str | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Batch]:
        where, args = _listing_filter("batch_id", owner, after)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {', '.join(_BATCH_COLS)}, doc FROM batches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, batch_id DESC LIMIT ? OFFSET ?"
        return [self._batch_from_row(r) for r in self._query(sql, (*args, limit, offset))]

    def count_by_status(
        self, *, batch_id: str | None = None, job_type: str | None = None
    ) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM jobs"
        where = [
            (c, v) for c, v in (("batch_id", batch_id), ("job_type", job_type)) if v is not None
        ]
        args = tuple(v for _, v in where)
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where)
        counts = {s.value: 0 for s in JobStatus}
        counts.update(dict(self._query(sql + " GROUP BY status", args)))
        return counts

    def next_available_at(
        self, types: Collection[str] | None = None, now: datetime | None = None
    ) -> datetime | None:
        if types is not None:
            if not types:
                return None
            rows = self._query(*next_due_sql(sorted(set(types)), to_ms(now) or 0))
        elif now is not None:
            rows = self._query(
                "SELECT min(available_at) FROM jobs WHERE status = 'pending' AND available_at > ?",
                (to_ms(now),),
            )
        else:
            rows = self._query("SELECT min(available_at) FROM jobs WHERE status = 'pending'")
        return from_ms(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- the worker's operations -----------------------------------------------------------

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        if claim.limit <= 0:
            return []
        now_ms = to_ms(now)
        take, take_args = change_sql(lifecycle.claimed(claim.worker_id, claim.lease_seconds, now))
        claimed: list[Job] = []
        with self._tx() as db:
            slots = dict(claim.type_slots)
            if claim.cluster_limits:
                running = dict(
                    db.execute(
                        "SELECT job_type, count(*) FROM jobs WHERE status = 'processing' "
                        f"AND job_type IN ({', '.join('?' * len(claim.cluster_limits))}) "
                        "GROUP BY job_type",
                        tuple(claim.cluster_limits),
                    ).fetchall()
                )
                for job_type, limit in claim.cluster_limits.items():
                    room = max(0, limit - running.get(job_type, 0))
                    slots[job_type] = min(slots.get(job_type, room), room)
            order = "ORDER BY priority DESC, created_at, rowid LIMIT ?"
            # (a query of the rowids to claim, its arguments, at most this many)
            groups: list[tuple[str, tuple[Any, ...], int]] = []
            if claim.types is not None:
                # One index range per type (jobs_type_claim), merged in priority order: the
                # cost does not depend on how many jobs of other types are pending.
                parts, args = [], []
                for job_type in sorted(set(claim.types)):
                    n = min(slots.get(job_type, claim.limit), claim.limit)
                    if n > 0:
                        parts.append(
                            "SELECT * FROM (SELECT rowid AS r, priority AS p, created_at AS c "
                            "FROM jobs WHERE status = 'pending' AND job_type = ? "
                            f"AND available_at <= ? {order})"
                        )
                        args += [job_type, now_ms, n]
                if parts:
                    union = " UNION ALL ".join(parts)
                    groups.append(
                        (f"SELECT r FROM ({union}) ORDER BY p DESC, c, r LIMIT ?", tuple(args), 0)
                    )
            else:
                pending = "SELECT rowid FROM jobs WHERE status = 'pending' AND available_at <= ?"
                conditions = [(f"job_type NOT IN ({', '.join('?' * len(slots))})", tuple(slots))]
                conditions += [("job_type = ?", (t,)) for t, n in slots.items() if n > 0]
                limits = [claim.limit] + [n for n in slots.values() if n > 0]
                if not slots:
                    conditions, limits = [("1", ())], [claim.limit]
                groups = [
                    (f"{pending} AND {cond} {order}", (now_ms, *cond_args), n)
                    for (cond, cond_args), n in zip(conditions, limits, strict=True)
                ]
            for select, select_args, group_limit in groups:
                limit = min(group_limit or claim.limit, claim.limit - len(claimed))
                if limit <= 0:
                    break
                rows = db.execute(
                    f"UPDATE jobs SET {take} WHERE rowid IN ({select}) RETURNING {_SELECT}",
                    (*take_args, *select_args, limit),
                ).fetchall()
                for r in rows:
                    try:
                        claimed.append(decode_job(r))
                    except Exception as exc:  # one unreadable row: quarantine it, go on
                        self._quarantine(db, r, problem_of(exc), now_ms)
            self._move_counters(
                db, [(j.batch_id, "pending", "processing") for j in claimed], now_ms
            )
        claimed.sort(key=lambda j: (-j.priority, j.created_at))
        return claimed

    def _quarantine(
        self, db: sqlite3.Connection, row: Sequence[Any], problem: str, now_ms: int
    ) -> None:
        """Fail a just-claimed row that cannot be read with ``INVALID_DOCUMENT`` (by rowid; not
        retried, not announced: no hook can be given a job that cannot be read)."""
        job_id = row_value(row, "job_id")
        sets, args = change_sql(lifecycle.quarantined(quarantine_error(problem), from_ms(now_ms)))
        db.execute("SAVEPOINT quarantine")
        try:
            db.execute(f"UPDATE jobs SET {sets} WHERE rowid = ?", (*args, row_value(row, "rowid")))
            batch_id = row_value(row, "batch_id")
            if isinstance(batch_id, str) and not isinstance(batch_id, BadText):
                self._move_counters(db, [(batch_id, "pending", "failed")], now_ms)
        except sqlite3.Error as exc:
            db.execute("ROLLBACK TO quarantine")
            log.error(
                "skipped job %r: it cannot be read (%s) nor failed (%s)", job_id, problem, exc
            )
        else:
            log.error("quarantined job %r: %s: %s", job_id, errors.INVALID_DOCUMENT, problem)
        finally:
            db.execute("RELEASE quarantine")

    def heartbeat(
        self, worker_id: str, job_ids: Collection[str], lease_seconds: float, now: datetime
    ) -> tuple[set[str], set[str]]:
        if not job_ids:
            return set(), set()
        now_ms = to_ms(now)
        marks = ", ".join("?" * len(job_ids))
        with self._tx() as db:
            rows = db.execute(
                f"UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ? WHERE job_id IN "
                f"({marks}) AND lease_owner = ? AND status = 'processing' "
                f"RETURNING job_id, cancel_requested",
                (now_ms + int(lease_seconds * 1000), now_ms, *job_ids, worker_id),
            ).fetchall()
        held = {r[0] for r in rows}
        return {r[0] for r in rows if r[1]}, set(job_ids) - held

    def save_progress(
        self, worker_id: str, updates: Mapping[str, JobProgress], now: datetime
    ) -> None:
        if not updates:
            return
        now_ms = to_ms(now)
        with self._tx() as db:
            db.executemany(
                "UPDATE jobs SET progress = ?, updated_at = ? WHERE job_id = ? "
                "AND lease_owner = ? AND status = 'processing'",
                [
                    (
                        dumps({"step": p.step, "percent": p.percent, "message": p.message}),
                        now_ms,
                        job_id,
                        worker_id,
                    )
                    for job_id, p in updates.items()
                ],
            )

    def append_logs(self, entries: Sequence[tuple[str, LogEntry]]) -> None:
        if not entries:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO logs (job_id, ts, level, message) VALUES (?,?,?,?)",
                [
                    (
                        job_id,
                        to_ms(e.timestamp),
                        e.level.value,
                        cut(storable_text(e.message), self.log_message_max),
                    )
                    for job_id, e in entries
                ],
            )
            for job_id in {job_id for job_id, _ in entries}:
                db.execute(
                    "DELETE FROM logs WHERE job_id = ? AND id <= (SELECT id FROM logs "
                    "WHERE job_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (job_id, job_id, self.log_cap),
                )

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[Transition]:
        now_ms = to_ms(now)
        done: list[Transition] = []
        batch_of: list[str | None] = []
        with self._tx() as db:
            moves: list[tuple[str | None, str, str]] = []
            for out in outcomes:
                try:
                    change = lifecycle.outcome_change(out, now)
                    sets, args = change_sql(change)
                except (TypeError, ValueError) as exc:  # results no store can keep
                    out = unstorable(out, exc)
                    change = lifecycle.outcome_change(out, now)
                    sets, args = change_sql(change)
                target = change.status.value
                row = db.execute(
                    f"UPDATE jobs SET {sets} WHERE job_id = ? AND lease_owner = ? "
                    f"AND status = 'processing' RETURNING {_SELECT}",
                    (*args, out.job_id, out.worker_id),
                ).fetchone()
                if row is None:
                    continue
                batch_id = row[_JOB_COLS.index("batch_id")]
                moves.append((batch_id, "processing", target))
                done.append(
                    Transition(
                        functools.partial(self._job_from_row, row),
                        status=JobStatus(target),
                        job_id=row[_JOB_COLS.index("job_id")],
                    )
                )
                batch_of.append(batch_id)
            finished = self._move_counters(db, moves, now_ms)
        attach_batches(done, batch_of, finished)
        return done

    def recover_expired(self, now: datetime, backoff: float | Backoff = 2.0) -> list[Transition]:
        now_ms = to_ms(now)
        policy = Backoff.of(backoff)
        done: list[Transition] = []
        batch_of: list[str | None] = []
        with self._tx() as db:
            # A processing job without a (readable) lease counts as expired: nothing renews it.
            rows = db.execute(
                "SELECT rowid, job_id, job_type, attempts, max_attempts, lease_owner FROM jobs "
                "WHERE status = 'processing' AND (lease_expires_at < ? "
                "OR lease_expires_at IS NULL OR typeof(lease_expires_at) != 'integer')",
                (now_ms,),
            ).fetchall()
            moves = []
            for rowid, job_id, job_type, attempts, max_attempts, owner in rows:
                out = lifecycle.lease_expired(
                    str(job_id),
                    owner if isinstance(owner, str) else None,
                    job_type=job_type_of(job_type) if isinstance(job_type, str) else None,
                    attempts=attempts if isinstance(attempts, int) else 1,
                    max_attempts=max_attempts if isinstance(max_attempts, int) else 1,
                    backoff=policy,
                    now=now,
                )
                change = lifecycle.outcome_change(out, now)
                sets, args = change_sql(change)
                row = db.execute(
                    f"UPDATE jobs SET {sets} WHERE rowid = ? RETURNING {_SELECT}", (*args, rowid)
                ).fetchone()
                job = self._job_from_row(row)
                moves.append((job.batch_id, "processing", change.status.value))
                done.append(Transition(job))
                batch_of.append(job.batch_id)
            finished = self._move_counters(db, moves, now_ms)
        attach_batches(done, batch_of, finished)
        if done:
            self._wake()
        return done

    def _move_counters(
        self, db: sqlite3.Connection, moves: Sequence[tuple[str | None, str, str]], now_ms: int
    ) -> list[Batch]:
        """Apply counter moves (batch, from status, to status); return batches just finished."""
        return move_counters(db, moves, now_ms)

    # -- users' operations -----------------------------------------------------------------

    def cancel(self, job_id: str, now: datetime) -> Transition | None:
        now_ms = to_ms(now)
        with self._tx() as db:
            row = db.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or row[0] in ("completed", "failed"):
                return None
            change = (
                lifecycle.cancel_requested(now)
                if row[0] == "processing"
                else lifecycle.cancelled_pending(now)
            )
            self._write(db, change, "job_id = ?", job_id)
            if change.status is JobStatus.PROCESSING:
                result = Transition(self._get_in(db, job_id))
            else:
                job = self._get_in(db, job_id)
                finished = self._move_counters(db, [(job.batch_id, "pending", "failed")], now_ms)
                result = Transition(job, finished[0] if finished else None)
        self._wake()
        return result

    def _write(self, db: sqlite3.Connection, change: Change, where: str, *args: Any) -> None:
        sets, set_args = change_sql(change)
        db.execute(f"UPDATE jobs SET {sets} WHERE {where}", (*set_args, *args))

    def _get_in(self, db: sqlite3.Connection, job_id: str) -> Job:
        return self._job_from_row(
            db.execute(f"SELECT {_SELECT} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )

    def retry(self, job_id: str, now: datetime, budget: int = 3) -> Job | None:
        now_ms = to_ms(now)
        with self._tx() as db:
            found = db.execute(
                "SELECT attempts FROM jobs WHERE job_id = ? AND status = 'failed'", (job_id,)
            ).fetchone()
            if found is None:
                return None
            attempts = found[0] if isinstance(found[0], int) else 0
            sets, args = change_sql(lifecycle.retried_by_hand(attempts, budget, now))
            row = db.execute(
                f"UPDATE jobs SET {sets} WHERE job_id = ? RETURNING {_SELECT}", (*args, job_id)
            ).fetchone()
            job = self._job_from_row(row)
            self._move_counters(db, [(job.batch_id, "failed", "pending")], now_ms)
        self._wake()
        return job

    def mark_announced(self, job_ids: Collection[str], batch_ids: Collection[str] = ()) -> None:
        with self._tx() as db:
            for table, key, ids in (
                ("jobs", "job_id", list(job_ids)),
                ("batches", "batch_id", list(batch_ids)),
            ):
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    db.execute(
                        f"UPDATE {table} SET announce_pending = 0 WHERE {key} IN "
                        f"({', '.join('?' * len(chunk))})",
                        chunk,
                    )

    def unannounced_batches(self, before: datetime, limit: int = 100) -> list[Batch]:
        rows = self._query(
            f"SELECT {', '.join(_BATCH_COLS)}, doc FROM batches "
            f"WHERE announce_pending = 1 AND updated_at < ? LIMIT ?",
            (to_ms(before), limit),
        )
        return [self._batch_from_row(r) for r in rows]

    def unannounced(self, before: datetime, limit: int = 100) -> list[Transition]:
        rows = self._query(
            f"SELECT {_SELECT} FROM jobs WHERE announce_pending = 1 "
            f"AND updated_at < ? ORDER BY updated_at LIMIT ?",
            (to_ms(before), limit),
        )
        return [Transition(self._job_from_row(r)) for r in rows]

    def purge(
        self, *, before: datetime, statuses: Collection[JobStatus], dry_run: bool = False
    ) -> Purged:
        values = [JobStatus(s).value for s in statuses]
        if not values:
            return Purged()
        cond = f"status IN ({', '.join('?' * len(values))}) AND updated_at < ?"
        args = (*values, to_ms(before))
        with self._tx() as db:
            rows = db.execute(f"SELECT job_id, batch_id FROM jobs WHERE {cond}", args).fetchall()
            emptied = [
                b
                for b in sorted({batch for _, batch in rows if batch})
                if db.execute(
                    f"SELECT 1 FROM jobs WHERE batch_id = ? AND NOT ({cond}) LIMIT 1", (b, *args)
                ).fetchone()
                is None
            ]
            if not dry_run:
                db.execute(
                    f"DELETE FROM logs WHERE job_id IN (SELECT job_id FROM jobs WHERE {cond})", args
                )
                db.execute(f"DELETE FROM jobs WHERE {cond}", args)
                for start in range(0, len(emptied), 500):
                    chunk = emptied[start : start + 500]
                    db.execute(
                        f"DELETE FROM batches WHERE batch_id IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
        return Purged([job_id for job_id, _ in rows], emptied)

    # -- the worker registry ---------------------------------------------------------------

    def register_worker(self, record: WorkerRecord) -> None:
        with self._tx() as db:
            upsert_worker(db, record)

    def workers(self) -> list[WorkerRecord]:
        with self._lock:
            return self._retry(select_workers, self._conn)

    def prune_workers(self, before: datetime) -> int:
        with self._tx() as db:
            return delete_before(db, to_ms(before) or 0)

    def pending_types(self) -> set[str]:
        with self._lock:
            return self._retry(pending_types, self._conn)

    def beat(
        self, record: WorkerRecord, job_ids: Collection[str], now: datetime
    ) -> tuple[set[str], set[str]]:
        with self._tx():  # one commit for the record and the leases
            return super().beat(record, job_ids, now)

    def sweep_unserved(self, now: datetime, grace: float) -> list[Transition]:
        with self._tx():  # a worker registering meanwhile waits for the verdict, or prevents it
            return super().sweep_unserved(now, grace)

    def fail_pending(
        self, messages: Mapping[str, str], now: datetime, limit: int = 500
    ) -> list[Transition]:
        now_ms = to_ms(now) or 0
        done: list[Transition] = []
        batch_of: list[str | None] = []
        logs: list[tuple[str, LogEntry]] = []
        with self._tx() as db:
            for job_type, message in messages.items():
                error = JobError(errors.UNKNOWN_JOB_TYPE, message, {"job_type": job_type})
                sets, args = change_sql(lifecycle.failed_pending(error, now))
                rows = db.execute(
                    f"UPDATE jobs SET {sets} WHERE rowid IN (SELECT rowid FROM jobs "
                    f"WHERE status = 'pending' AND job_type = ? LIMIT ?) RETURNING {_SELECT}",
                    (*args, job_type, limit),
                ).fetchall()
                for row in rows:
                    job_id, batch_id = row[0], row[_JOB_COLS.index("batch_id")]
                    done.append(
                        Transition(
                            functools.partial(self._job_from_row, row),
                            status=JobStatus.FAILED,
                            job_id=job_id,
                        )
                    )
                    batch_of.append(batch_id)
                    logs.append(
                        (
                            job_id,
                            LogEntry(now, LogLevel.ERROR, f"{errors.UNKNOWN_JOB_TYPE}: {message}"),
                        )
                    )
            self.append_logs(logs)
            finished = self._move_counters(db, [(b, "pending", "failed") for b in batch_of], now_ms)
        attach_batches(done, batch_of, finished)
        return done

    # -- waking idle workers ---------------------------------------------------------------

    def notifier(self, types: Collection[str] | None = None) -> WakeSocket:
        return WakeSocket(self._wake_dir)

    def watcher(self) -> WakeSocket:
        return WakeSocket(self._watch_dir)

    def api_keys(self) -> SQLiteKeys:
        return SQLiteKeys(self)

    def _wake(self) -> None:
        self._waker.wake()
