"""The SQLite store: its parts together, and the users' operations (cancel, retry, purge,
announcements) and the worker registry."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from ... import lifecycle
from ...model import Batch, Job, JobStatus
from .._codec import to_ms
from ..base import Purged, Transition
from .changes import BATCH_COLS, change_sql
from .jobs import SQLiteJobs
from .pending import pending_types
from .registry import delete_before, select_workers, upsert_worker
from .rows import SELECT
from .schema import TAKEN
from .work import SQLiteWork

if TYPE_CHECKING:
    from ...fleet import WorkerRecord

__all__ = ["SQLiteStore"]


class SQLiteStore(SQLiteWork, SQLiteJobs):
    """The embedded store (see :mod:`jobworker.store.sqlite`)."""

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
                f"UPDATE jobs SET {sets} WHERE job_id = ? RETURNING {SELECT}", (*args, job_id)
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
            f"SELECT {', '.join(BATCH_COLS)}, doc FROM batches "
            f"WHERE announce_pending = 1 AND updated_at < ? LIMIT ?",
            (to_ms(before), limit),
        )
        return [self._batch_from_row(r) for r in rows]

    def unannounced(self, before: datetime, limit: int = 100) -> list[Transition]:
        rows = self._query(
            f"SELECT {SELECT} FROM jobs WHERE announce_pending = 1 "
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
        if JobStatus.PENDING.value not in values:
            cond += f" AND {TAKEN}"  # through jobs_taken
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
