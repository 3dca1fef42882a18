"""Submitting and reading jobs and batches (SQLite store): inserts, imports, listings, counts."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, cast

import attrs

from ... import lifecycle
from ...model import Batch, Job, JobStatus, LogEntry, LogLevel, utcnow
from ...newjobs import NewJob
from .._codec import dumps, dumps_plain, from_ms, to_ms
from ..base import StoreError
from ..imported import check_importable
from .changes import BATCH_COLS
from .connection import SQLiteConnection
from .pending import earliest_sql, next_due_sql, pending_counts
from .rows import JOB_COLS, JSON_COLS, SELECT, TIME_COLS
from .schema import PENDING_INDEXES, TAKEN

__all__ = ["SQLiteJobs"]


_JOB_FIELDS = frozenset(field.name for field in attrs.fields(Job))
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join((*JOB_COLS, 'doc'))}) "
    f"VALUES ({', '.join('?' * (len(JOB_COLS) + 1))})"
)
#: The columns a new job (:class:`NewJob`) sets; the others keep their defaults, 0 or NULL, the
#: values :data:`_INSERT_JOB` writes for such a job. Binding 10 values instead of 22 takes
#: 40 % off SQLite's time per row of an ``executemany`` (6.5 against 10.4 µs).
_NEW_COLS = (
    "job_id",
    "job_type",
    "status",
    "priority",
    "batch_id",
    "max_attempts",
    "created_at",
    "updated_at",
    "available_at",
    "doc",
)
_INSERT_NEW = (
    f"INSERT INTO jobs ({', '.join(_NEW_COLS)}) VALUES ({', '.join('?' * len(_NEW_COLS))})"
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


class SQLiteJobs(SQLiteConnection):
    """The SQLite store's inserts and reads."""

    def _job_row(self, job: Job) -> tuple[Any, ...]:
        """The values of :data:`_INSERT_JOB` for ``job``.

        A job as submits make it (no progress, results or error yet, no extra top-level key
        that shadows a field) is written field by field, without unstructuring the whole job
        and picking the columns back out of the document; :meth:`_general_row` writes any
        other job and is what the fast path must equal (``tests/test_sqlite_rows.py``).
        """
        if (
            job.progress is not None
            or job.results is not None
            or job.error is not None
            or not _JOB_FIELDS.isdisjoint(job.unknown)
        ):
            return self._general_row(job)
        doc = dict(job.unknown)
        doc["parameters"] = job.parameters.to_dict()
        if job.job_name is not None:
            doc["job_name"] = job.job_name
        doc["archived"] = job.archived
        if job.user_id is not None:
            doc["user_id"] = job.user_id
        access = job.access_control
        doc["access_control"] = {
            "visibility": access.visibility,
            "read_access": access.read_access,
            "write_access": access.write_access,
            "admin_access": access.admin_access,
        }
        if job.timeout is not None:
            doc["timeout"] = job.timeout
        created = to_ms(job.created_at)
        return (
            job.job_id,
            job.job_type,
            job.status.value,
            job.priority,
            job.batch_id,
            job.attempts,
            job.max_attempts,
            job.lease_owner,
            int(job.cancel_requested),
            int(job.announce_pending),
            job.idempotency_key,
            created,
            to_ms(job.updated_at),
            to_ms(job.available_at) or created,
            to_ms(job.lease_expires_at),
            to_ms(job.heartbeat_at),
            to_ms(job.processing_started_at),
            to_ms(job.completed_at),
            None,
            None,
            None,
            dumps(doc),
        )

    def _new_row(self, new: NewJob, batch_id: str | None) -> tuple[Any, ...]:
        """The values of :data:`_INSERT_NEW` for ``new``: the row :meth:`_job_row` writes for
        ``new.to_job(batch_id)`` (``tests/test_submit_batch_entries.py`` compares the rows)."""
        doc: dict[str, Any] = {} if new.owner is None else {"owner_key": new.owner}
        doc["parameters"] = new.parameters
        if new.job_name is not None:
            doc["job_name"] = new.job_name
        doc["archived"] = False
        users = [] if not new.user_id else [new.user_id]
        if new.user_id is not None:
            doc["user_id"] = new.user_id
        doc["access_control"] = {
            "visibility": "private",
            "read_access": users,
            "write_access": users,
            "admin_access": users,
        }
        created = new.created_ms
        return (
            new.job_id,
            new.job_type,
            "pending",
            new.priority,
            batch_id,
            new.max_attempts,
            created,
            created,
            created,
            dumps_plain(doc),  # parameters of plain JSON (checked by QuickEntries), str, lists
        )

    def _general_row(self, job: Job) -> tuple[Any, ...]:
        """:meth:`_job_row` for any job: its document, with the columns taken out of it."""
        doc = job.to_dict()
        row = {k: doc.pop(k, None) for k in JOB_COLS}
        doc.pop("logs", None)
        row["status"] = job.status.value
        row["cancel_requested"] = int(job.cancel_requested)
        row["announce_pending"] = int(job.announce_pending)
        for col in TIME_COLS:
            row[col] = to_ms(getattr(job, col))
        row["available_at"] = row["available_at"] or row["created_at"]
        for col in JSON_COLS:
            row[col] = None if row[col] is None else dumps(row[col])
        row["doc"] = dumps(doc)
        return tuple(row.values())

    def enqueue(self, jobs: Sequence[Job], batch: Batch | None = None) -> list[Job]:
        return cast("list[Job]", self.enqueue_entries(jobs, batch))  # jobs in, jobs out

    def enqueue_entries(
        self, entries: Sequence[Job | NewJob], batch: Batch | None = None
    ) -> list[Job | NewJob]:
        if batch is None and len(entries) == 1 and not isinstance(entries[0], Job):
            # a one-by-one submit: its INSERT and nothing else
            row = self._new_row(entries[0], None)
            with self._tx(wake=True) as db:
                self._insert_run(db, _INSERT_NEW, [row], entries)
            return [entries[0]]
        stored: list[Job | NewJob] = []
        added = 0
        rows: list[Job | NewJob] = []  # not inserted yet: one executemany per run of them
        batch_id = None if batch is None else batch.batch_id
        with self._tx(wake=True) as db:
            for job in entries:
                if isinstance(job, Job) and job.idempotency_key:
                    self._insert_jobs(db, rows, batch_id)  # an earlier job may hold the key
                    rows = []
                    hit = db.execute(
                        f"SELECT {SELECT} FROM jobs WHERE idempotency_key = ?",
                        (job.idempotency_key,),
                    ).fetchone()
                    if hit:
                        stored.append(self._job_from_row(hit))
                        continue
                rows.append(job)
                stored.append(job)
                added += 1
            self._insert_jobs(db, rows, batch_id)
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
        return stored

    def _insert_jobs(
        self, db: sqlite3.Connection, jobs: Sequence[Job | NewJob], batch_id: str | None
    ) -> None:
        """Insert new jobs (into the batch ``batch_id``, if any) with one prepared statement
        per run of jobs or of :class:`NewJob` (a submit_batch of thousands costs one
        ``executemany``); a duplicate id raises :class:`StoreError` naming it."""
        full: list[Job] = []
        new: list[NewJob] = []
        for job in jobs:
            if isinstance(job, Job):
                if new:
                    self._insert_run(
                        db, _INSERT_NEW, [self._new_row(n, batch_id) for n in new], new
                    )
                    new = []
                if batch_id is not None:
                    job.batch_id = batch_id
                full.append(job)
            else:
                if full:
                    self._insert_run(db, _INSERT_JOB, [self._job_row(j) for j in full], full)
                    full = []
                new.append(job)
        if full:
            self._insert_run(db, _INSERT_JOB, [self._job_row(j) for j in full], full)
        if new:
            self._insert_run(db, _INSERT_NEW, [self._new_row(n, batch_id) for n in new], new)

    def _insert_run(
        self,
        db: sqlite3.Connection,
        sql: str,
        rows: list[tuple[Any, ...]],
        jobs: Sequence[Job | NewJob],
    ) -> None:
        before = db.total_changes
        try:
            if len(rows) == 1:
                db.execute(sql, rows[0])
            else:
                db.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            # The rows before the failing one went in (the caller's transaction rolls back).
            failed = jobs[min(db.total_changes - before, len(jobs) - 1)]
            raise StoreError(f"job {failed.job_id} already exists") from exc

    def _insert_batch(self, db: sqlite3.Connection, batch: Batch) -> None:
        doc = batch.to_dict()
        row = [doc.pop(c, None) for c in BATCH_COLS]
        for i, col in enumerate(BATCH_COLS):
            if col in ("created_at", "updated_at", "completed_at"):
                row[i] = to_ms(row[i])
            elif col == "announce_pending":
                row[i] = int(bool(row[i]))
        try:
            db.execute(
                f"INSERT INTO batches ({', '.join(BATCH_COLS)}, doc) "
                f"VALUES ({', '.join('?' * (len(BATCH_COLS) + 1))})",
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
                self._insert_jobs(db, [job], None)
                for entry in job.logs:
                    db.execute(
                        "INSERT INTO logs (job_id, ts, level, message) VALUES (?,?,?,?)",
                        (job.job_id, to_ms(entry.timestamp), entry.level.value, entry.message),
                    )
        self._wake()

    def get_job(self, job_id: str, *, with_logs: bool = True) -> Job | None:
        rows = self._query(f"SELECT {SELECT} FROM jobs WHERE job_id = ?", (job_id,))
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
        # Newest first through jobs_created, stopping once the page is full (the planner,
        # without statistics, would rather sort every job of a status or type); a batch's
        # jobs through jobs_in_batch.
        sql = f"SELECT {SELECT} FROM jobs"
        if batch_id is None:
            sql += " INDEXED BY jobs_created"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, job_id DESC LIMIT ? OFFSET ?"
        return [self._job_from_row(r) for r in self._query(sql, (*args, limit, offset))]

    def get_batch(self, batch_id: str) -> Batch | None:
        rows = self._query(
            f"SELECT {', '.join(BATCH_COLS)}, doc FROM batches WHERE batch_id = ?", (batch_id,)
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
        sql = f"SELECT {', '.join(BATCH_COLS)}, doc FROM batches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, batch_id DESC LIMIT ? OFFSET ?"
        return [self._batch_from_row(r) for r in self._query(sql, (*args, limit, offset))]

    def count_by_status(
        self, *, batch_id: str | None = None, job_type: str | None = None
    ) -> dict[str, int]:
        where = [
            (c, v) for c, v in (("batch_id", batch_id), ("job_type", job_type)) if v is not None
        ]
        cond = " AND ".join([f"{c} = ?" for c, _ in where] or ["1"])
        args = tuple(v for _, v in where)
        counts = {s.value: 0 for s in JobStatus}
        # the jobs that left pending through jobs_taken (or jobs_in_batch), the pending ones
        # through the two indexes of pending jobs
        counts.update(
            self._query(
                f"SELECT status, count(*) FROM jobs WHERE {TAKEN} AND {cond} GROUP BY status", args
            )
        )
        [(pending,)] = self._query(f"SELECT {pending_counts(cond)}", args * len(PENDING_INDEXES))
        counts[JobStatus.PENDING.value] = pending
        return counts

    def next_available_at(
        self, types: Collection[str] | None = None, now: datetime | None = None
    ) -> datetime | None:
        if types is not None:
            if not types:
                return None
            rows = self._query(*next_due_sql(sorted(set(types)), to_ms(now) or 0))
        elif now is not None:
            rows = self._query(earliest_sql(after=True), (to_ms(now),))
        else:
            rows = self._query(earliest_sql(after=False))
        return from_ms(rows[0][0]) if rows and rows[0][0] is not None else None
