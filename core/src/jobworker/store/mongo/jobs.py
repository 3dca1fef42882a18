"""Submitting and reading jobs and batches (MongoDB store): inserts (undone on failure), imports,
listings, counts."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    PyMongoError,
)

from ...model import Batch, Job, JobStatus
from ..base import StoreError
from ..broken import read_batch
from ..imported import check_importable
from .database import _NO_LOGS, _SOONEST, MongoDatabase
from .queries import (
    from_extended_json,
    listing_query,
    type_match,
    type_values,
)

__all__ = ["MongoJobs"]

log = logging.getLogger(__name__)


class MongoJobs(MongoDatabase):
    """The MongoDB store's inserts and reads."""

    def enqueue(self, jobs: Sequence[Job], batch: Batch | None = None) -> list[Job]:
        stored: list[Job | None] = [None] * len(jobs)
        keys = [j.idempotency_key for j in jobs if j.idempotency_key]
        if keys:
            # $type: the predicate the partial unique index was built with (else unusable).
            found = {"idempotency_key": {"$in": keys, "$type": "string"}}
            for doc in self.jobs.find(found, _NO_LOGS):
                for i, j in enumerate(jobs):
                    if stored[i] is None and j.idempotency_key == doc["idempotency_key"]:
                        stored[i] = self._job(doc)
        new = [(i, j) for i, j in enumerate(jobs) if stored[i] is None]
        grown = False
        if batch is not None:
            for _, j in new:
                j.batch_id = batch.batch_id
            grown = self.counters.open(batch, len(new))
        docs, files = [], []
        for _, j in new:
            doc, file_id = self._job_doc(j)
            docs.append(doc)
            files += [file_id] if file_id is not None else []
        inserted: list[str] = []
        try:
            if docs:
                try:
                    self.jobs.insert_many(docs, ordered=True)
                    inserted = [d["job_id"] for d in docs]
                except BulkWriteError as exc:
                    inserted = [d["job_id"] for d in docs[: exc.details.get("nInserted", 0)]]
                    for (i, j), doc in list(zip(new, docs, strict=True))[len(inserted) :]:
                        if self._insert_one(doc, j):
                            inserted.append(j.job_id)
                        else:  # the same idempotency key was stored meanwhile
                            stored[i] = self._job(
                                self.jobs.find_one(
                                    {
                                        "idempotency_key": {
                                            "$eq": j.idempotency_key,
                                            "$type": "string",
                                        }
                                    },
                                    _NO_LOGS,
                                )
                                or {}
                            )
                            if batch is not None:
                                self.counters.grow(batch.batch_id, -1)
        except BaseException:
            self._undo_enqueue(inserted, batch, len(new), grown, files)
            raise
        for i, j in new:
            if stored[i] is None:
                stored[i] = j
        return [j for j in stored if j is not None]

    def _insert_one(self, doc: dict[str, Any], job: Job) -> bool:
        """Insert one job document; ``False`` if its idempotency key already exists."""
        try:
            self.jobs.insert_one(doc)
            return True
        except DuplicateKeyError as exc:
            if job.idempotency_key and "idempotency_key" in str(exc.details or exc):
                return False
            raise StoreError(f"job {job.job_id} already exists") from exc

    def _undo_enqueue(
        self, job_ids: list[str], batch: Batch | None, n: int, grown: bool, files: list[Any]
    ) -> None:
        """Best effort: take back a partly done enqueue (MongoDB has no multi-document
        atomicity without transactions, which a standalone server lacks)."""
        try:
            if job_ids:
                self.jobs.delete_many({"job_id": {"$in": job_ids}, "status": "pending"})
            if batch is not None and grown:
                self.counters.grow(batch.batch_id, -n)
            elif batch is not None:
                self.batches.delete_one({"batch_id": batch.batch_id})
            self.results.delete(files)
        except PyMongoError:
            log.exception("could not undo a failed enqueue")

    def import_documents(
        self, jobs: Iterable[Mapping[str, Any]], batches: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        """Insert documents as they are; Extended JSON values (``{"$date": ...}``,
        ``{"$oid": ...}``, as ``mongoexport`` writes them) become BSON dates and ids.
        Documents posing as jobworker's own jobs are refused (:mod:`.imported`)."""
        jobs = check_importable(jobs)
        for raw in batches:
            doc = from_extended_json(raw)
            Batch.from_dict(doc)  # refuse what the model cannot read
            try:
                self.batches.insert_one(doc)
            except DuplicateKeyError as exc:
                raise StoreError(f"batch {doc.get('batch_id')} already exists") from exc
        for raw in jobs:
            doc = from_extended_json(raw)
            Job.from_dict(dict(doc))
            try:
                self.jobs.insert_one(doc)
            except DuplicateKeyError as exc:
                raise StoreError(f"job {doc.get('job_id')} already exists") from exc

    def get_job(self, job_id: str, *, with_logs: bool = True) -> Job | None:
        doc = self.jobs_read.find_one({"job_id": job_id}, None if with_logs else _NO_LOGS)
        return None if doc is None else self._job(doc)

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
        if limit <= 0:
            return []
        query = listing_query("job_id", owner, after)
        if status is not None:
            query["status"] = JobStatus(status).value
        if job_type is not None:
            query["job_type"] = type_match(job_type)
        if batch_id is not None:
            query["batch_id"] = batch_id
        if created_from is not None or created_to is not None:
            span = {"$gte": created_from, "$lt": created_to}
            query.setdefault("$and", []).append(
                {"created_at": {k: v for k, v in span.items() if v is not None}}
            )
        order = [("created_at", DESCENDING), ("job_id", DESCENDING)]
        cursor = self.jobs_read.find(query, _NO_LOGS).sort(order).skip(offset)
        return [self._job(d) for d in cursor.limit(limit)]

    def get_batch(self, batch_id: str) -> Batch | None:
        doc = self.batches_read.find_one({"batch_id": batch_id})
        return None if doc is None else read_batch(doc)

    def list_batches(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        status: str | None = None,
        owner: str | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Batch]:
        if limit <= 0:
            return []
        query = listing_query("batch_id", owner, after)
        if status is not None:
            query["status"] = status
        order = [("created_at", DESCENDING), ("batch_id", DESCENDING)]
        cursor = self.batches_read.find(query).sort(order).skip(offset).limit(limit)
        return [read_batch(d) for d in cursor]

    def count_by_status(
        self, *, batch_id: str | None = None, job_type: str | None = None
    ) -> dict[str, int]:
        counts = {s.value: 0 for s in JobStatus}
        # Served by the status (or batch_id, status) prefix of an index, covered: no document
        # is fetched; statuses the model does not know are not counted.
        match: dict[str, Any] = {"status": {"$in": list(counts)}}
        if batch_id is not None:
            match = {"batch_id": batch_id, **match}
        if job_type is not None:
            match["job_type"] = type_match(job_type)
        for row in self.jobs_read.aggregate(
            [{"$match": match}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        ):
            counts[str(row["_id"])] = int(row["n"])
        return counts

    def next_available_at(
        self, types: Collection[str] | None = None, now: datetime | None = None
    ) -> datetime | None:
        # Legacy documents without available_at count as due (and get one within seconds,
        # see _normalise_legacy): never a future time to wake up for.
        query: dict[str, Any] = {
            "status": "pending",
            "available_at": {"$ne": None} if now is None else {"$gt": now},
        }
        if types is not None:
            if not types:
                return None
            query["job_type"] = {"$in": type_values(types)}
        doc = self.jobs.find_one(query, {"_id": 0, "available_at": 1}, sort=_SOONEST)
        found = None if doc is None else doc.get("available_at")
        return found if isinstance(found, datetime) else None  # a bad value: no wake-up time
