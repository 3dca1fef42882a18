"""The MongoDB store: its parts together, and the users' operations (cancel, retry, purge,
announcements) and the worker registry."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone

from pymongo import ReturnDocument

from ... import lifecycle
from ...fleet import WorkerRecord
from ...model import Batch, Job, JobStatus, job_type_of
from ..base import Purged, Transition
from ..broken import read_batch
from .changes import change_update
from .database import _AFTER, _NO_LOGS, ORPHAN_FILE_MARGIN
from .jobs import MongoJobs
from .orphans import sweep_orphan_results
from .queries import (
    as_int,
)
from .work import MongoWork

__all__ = ["MongoStore"]


class MongoStore(MongoWork, MongoJobs):
    """A store in one MongoDB database (see :mod:`jobworker.store.mongo` for the URL)."""

    def cancel(self, job_id: str, now: datetime) -> Transition | None:
        update = change_update(lifecycle.cancelled_pending(now))
        requested = change_update(lifecycle.cancel_requested(now))
        for _ in range(5):  # the job may move between pending and processing meanwhile
            doc = self.jobs.find_one_and_update(
                {"job_id": job_id, "status": "pending"},
                update,
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is not None:
                job = self._job(doc)
                finished = self.counters.move([(job.batch_id, "pending", "failed")], now)
                return Transition(job, finished[0] if finished else None)
            doc = self.jobs.find_one_and_update(
                {"job_id": job_id, "status": "processing"},
                requested,
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is not None:
                return Transition(self._job(doc))
            current = self.jobs.find_one({"job_id": job_id}, {"status": 1})
            if current is None or current.get("status") in ("completed", "failed"):
                return None
        return None

    def retry(self, job_id: str, now: datetime, budget: int = 3) -> Job | None:
        found = self.jobs.find_one({"job_id": job_id, "status": "failed"}, {"attempts": 1})
        if found is None:
            return None
        attempts = as_int(found.get("attempts"), 0)
        before = self.jobs.find_one_and_update(
            {"job_id": job_id, "status": "failed", "attempts": found.get("attempts")},
            change_update(lifecycle.retried_by_hand(attempts, budget, now)),
            projection=_NO_LOGS,
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return None
        file_id = self.results.file_id(before.get("results"))
        if file_id is not None:
            self.results.delete([file_id])
        job = self._job(self.jobs.find_one({"job_id": job_id}, _NO_LOGS) or before)
        self.counters.move([(job.batch_id, "failed", "pending")], now)
        return job

    def mark_announced(self, job_ids: Collection[str], batch_ids: Collection[str] = ()) -> None:
        for coll, key, ids in (
            (self.jobs, "job_id", list(job_ids)),
            (self.batches, "batch_id", list(batch_ids)),
        ):
            for start in range(0, len(ids), 500):
                coll.update_many(
                    {key: {"$in": ids[start : start + 500]}}, {"$unset": {"announce_pending": ""}}
                )

    def unannounced_batches(self, before: datetime, limit: int = 100) -> list[Batch]:
        docs = self.batches.find({"announce_pending": True, "updated_at": {"$lt": before}})
        return [read_batch(doc) for doc in docs.sort("updated_at", 1).limit(limit)]

    def unannounced(self, before: datetime, limit: int = 100) -> list[Transition]:
        docs = (
            self.jobs.find({"announce_pending": True, "updated_at": {"$lt": before}}, _NO_LOGS)
            .sort("updated_at", 1)
            .limit(limit)
        )
        return [Transition(self._job(doc)) for doc in docs]

    def purge(
        self, *, before: datetime, statuses: Collection[JobStatus], dry_run: bool = False
    ) -> Purged:
        values = [JobStatus(s).value for s in statuses]
        if not values:
            return Purged()
        query = {"status": {"$in": values}, "updated_at": {"$lt": before}}
        rows = list(
            self.jobs.find(query, {"_id": 1, "job_id": 1, "batch_id": 1, "results.results_ref": 1})
        )
        emptied = [
            b
            for b in sorted({r["batch_id"] for r in rows if isinstance(r.get("batch_id"), str)})
            if self.jobs.find_one({"batch_id": b, "$nor": [query]}, {"_id": 1}) is None
        ]
        if not dry_run:
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                self.jobs.delete_many({"_id": {"$in": [r["_id"] for r in chunk]}, **query})
                self.results.delete(
                    f
                    for f in (self.results.file_id(r.get("results")) for r in chunk)
                    if f is not None
                )
            if emptied:
                self.batches.delete_many({"batch_id": {"$in": emptied}})
            # Files an earlier, interrupted purge (or finish, or retry) left behind; an hour
            # of margin keeps the files of attempts still finishing out of reach.
            cutoff = min(before, datetime.now(timezone.utc) - ORPHAN_FILE_MARGIN)
            sweep_orphan_results(self.results, self.jobs, cutoff)
        return Purged([str(r.get("job_id")) for r in rows], emptied)

    def register_worker(self, record: WorkerRecord) -> None:
        self.registry.put(record)

    def workers(self) -> list[WorkerRecord]:
        return self.registry.all()

    def prune_workers(self, before: datetime) -> int:
        return self.registry.prune(before)

    def pending_types(self) -> set[str]:
        # ``distinct`` over the typed claim index (status, job_type, ...): a DISTINCT_SCAN.
        return {job_type_of(t) for t in self.jobs.distinct("job_type", {"status": "pending"})}
