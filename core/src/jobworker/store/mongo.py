"""The MongoDB store: many worker processes on many hosts share one MongoDB deployment.

URL: ``mongodb://host[:port][,host2...]/<database>?<options>`` or ``mongodb+srv://...``; the
database defaults to ``jobworker``. Options (URL query or keyword arguments, the query wins),
which are taken out of the URL before it goes to pymongo:

* ``collections=generic|legacy|default``: ``jobs``/``batches`` (generic, the default) or
  ``event_jobs``/``event_batches`` (the old session/event generation);
* ``jobs_collection=``, ``batches_collection=``: explicit names (win over the preset);
* ``workers_collection=``: the worker registry (default ``<jobs collection>_workers``);
* ``log_cap=N``: newest log entries kept per job (``$push`` with ``$slice``);
* ``gridfs_threshold=BYTES``: results larger than this (BSON size, default 4 MiB) go to GridFS.

Every other query option (``replicaSet``, ``w``, ``readPreference``, ``retryWrites``, TLS,
auth, ...) is pymongo's. Writes are acknowledged (``w=0`` is refused); retryable writes are on
unless the URL turns them off. See ``docs/mongodb.md``.

Atomicity: a claim is one ``find_one_and_update`` per job; a transition is one conditional
``find_one_and_update`` on the job (the single point that decides it happened, exactly once),
followed by an atomic update of its batch's counters.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from bson.errors import InvalidDocument
from pymongo import (
    ASCENDING,
    DESCENDING,
    MongoClient,
    ReadPreference,
    ReturnDocument,
    UpdateOne,
)
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    DuplicateKeyError,
    PyMongoError,
    WriteError,
)
from pymongo.read_concern import ReadConcern

from .. import errors, lifecycle
from ..fleet import WorkerRecord
from ..lifecycle import Backoff
from ..model import Batch, Job, JobError, JobProgress, JobStatus, LogEntry, job_type_of
from .base import Claim, Outcome, Purged, Store, StoreError, Transition
from .broken import broken_job, problem_of, quarantine_error, read_batch, storable_text, unstorable
from .imported import check_importable
from .mongo_apikeys import MongoKeys
from .mongo_batches import BatchCounters, attach_batches
from .mongo_changes import change_update, progress_doc
from .mongo_claims import CLAIM_SORT, claim_group
from .mongo_docs import (
    ResultsSpill,
    as_int,
    claim_query,
    expired_query,
    from_extended_json,
    listing_query,
    type_match,
    type_values,
)
from .mongo_keys import escape, escape_user_data, unescape_user_data
from .mongo_limits import TypeLocks
from .mongo_notify import ChangeStreamNotifier, wake_pipeline
from .mongo_orphans import sweep_orphan_results
from .mongo_registry import WorkerRegistry
from .mongo_schema import (
    COLLECTION_PRESETS,
    DEFAULT_GRIDFS_THRESHOLD,
    LIMITS_COLLECTION,
    OWN_OPTIONS,
    ensure_indexes,
    mask_url,
    split_url,
)
from .sizes import LOG_MESSAGE_MAX, TOO_LARGE_CODES, check_budget, cut

__all__ = ["COLLECTION_PRESETS", "MongoStore", "split_url"]

log = logging.getLogger(__name__)

_NO_LOGS = {"logs": 0}
# Errors that mean "this document cannot be written", not "the server is unreachable".
_UNSTORABLE = (StoreError, InvalidDocument, WriteError, OverflowError, TypeError, ValueError)
#: A processing job without a lease (left by the old system) is reclaimed once its last update
#: is this many seconds old (store option ``orphan_after``).
DEFAULT_ORPHAN_AFTER = 3600.0
#: Result files younger than this are never swept as orphans (their job may be finishing).
ORPHAN_FILE_MARGIN = timedelta(hours=1)
_AFTER = ReturnDocument.AFTER
_CLAIM_SORT = CLAIM_SORT
_SOONEST = [("available_at", ASCENDING)]
# How often a store instance gives legacy pending documents the fields the claim sorts on.
_NORMALISE_EVERY = 10.0


class MongoStore(Store):
    """A store in one MongoDB database (see the module docstring for the URL)."""

    def __init__(
        self,
        url: str,
        *,
        collections: str = "default",
        jobs_collection: str | None = None,
        batches_collection: str | None = None,
        workers_collection: str | None = None,
        log_cap: int = 1000,
        log_message_max: int = LOG_MESSAGE_MAX,
        gridfs_threshold: int = DEFAULT_GRIDFS_THRESHOLD,
        orphan_after: float = DEFAULT_ORPHAN_AFTER,
        **client_options: Any,
    ) -> None:
        client_url, own, database = split_url(url)
        collections = own.get("collections", collections)
        if collections not in COLLECTION_PRESETS:
            raise StoreError(
                f"collections must be one of {sorted(COLLECTION_PRESETS)}, not {collections!r}"
            )
        jobs_name, batches_name = COLLECTION_PRESETS[collections]
        self.jobs_collection = own.get("jobs_collection") or jobs_collection or jobs_name
        self.batches_collection = (
            own.get("batches_collection") or batches_collection or batches_name
        )
        self.workers_collection = (
            own.get("workers_collection") or workers_collection or f"{self.jobs_collection}_workers"
        )
        self.log_cap = int(own.get("log_cap", log_cap))
        self.log_message_max = int(own.get("log_message_max", log_message_max))
        threshold = int(own.get("gridfs_threshold", gridfs_threshold))
        check_budget(self.log_cap, self.log_message_max, threshold)  # before any connection
        self.orphan_after = float(own.get("orphan_after", orphan_after))
        self.url = mask_url(url)
        self.database_name = database
        # DATETIME_AUTO: a date outside Python's range reads as a DatetimeMS (that one job is
        # then broken) instead of failing the whole cursor.
        options = {
            "tz_aware": True,
            "appname": "jobworker",
            "datetime_conversion": "DATETIME_AUTO",
            **client_options,
        }
        try:
            self.client: MongoClient[dict[str, Any]] = MongoClient(client_url, **options)
        except (ConfigurationError, ValueError, TypeError) as exc:
            raise StoreError(f"bad MongoDB URL {self.url!r}: {exc}") from exc
        self.db = self.client.get_database(database)
        if not self.db.write_concern.acknowledged:
            raise StoreError(
                "w=0 (unacknowledged writes) cannot keep jobs safe: use w=1 or w=majority"
            )
        # The worker's reads decide claims, leases and limits: always from the primary, with
        # read concern "local", whatever the URL says. With readConcernLevel=majority and w:1
        # writes, a majority read can miss this worker's own fresh claim (its heartbeat would
        # then stop its own attempt) and a limit count can miss recent claims. Spilled
        # results are read from the primary too (a secondary may not have the file yet).
        # Users' reads (get/list/count) follow the URL's readPreference and readConcern.
        primary = self.client.get_database(
            database, read_preference=ReadPreference.PRIMARY, read_concern=ReadConcern("local")
        )
        self.primary_db = primary
        self.jobs = primary.get_collection(self.jobs_collection)
        self.batches = primary.get_collection(self.batches_collection)
        self.jobs_read = self.db.get_collection(self.jobs_collection)
        self.batches_read = self.db.get_collection(self.batches_collection)
        self.limits = TypeLocks(primary.get_collection(LIMITS_COLLECTION), self.jobs_collection)
        self.results = ResultsSpill(
            primary,
            f"{self.jobs_collection}_results",
            threshold,
        )
        self.counters = BatchCounters(self.batches)
        self.registry = WorkerRegistry(primary.get_collection(self.workers_collection))
        self._normalised_at = float("-inf")
        self._notifiers: list[ChangeStreamNotifier] = []
        # Jobs failed because a write of theirs can never succeed: reported by exchange().
        self._store_failed: list[Transition] = []

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MongoStore:
        """The store for ``url``; ``options`` (the config's ``[store_options]`` table) give
        defaults for the options the URL does not set. Unknown options are ignored."""
        known = {k: v for k, v in options.items() if k in OWN_OPTIONS}
        return cls(url, **known)

    # -- lifecycle -------------------------------------------------------------------------

    def init(self) -> None:
        """Create the indexes (idempotent) and make legacy pending jobs claimable in order."""
        self.create_indexes()
        self._normalise_legacy(force=True)

    def create_indexes(self) -> list[str]:
        """Make sure every index the store's queries use exists (idempotent; reuses equivalent
        indexes, see :func:`~.mongo_schema.ensure_indexes`); return their names."""
        return ensure_indexes(self.jobs, self.batches) + self.registry.create_indexes()

    def close(self) -> None:
        for n in self._notifiers:
            n.close()
        self._notifiers.clear()
        self.client.close()

    def drop_database(self) -> None:
        """Delete the whole database (tests)."""
        self.client.drop_database(self.database_name)

    # -- documents -------------------------------------------------------------------------

    def _decode(self, doc: Mapping[str, Any], load_results: bool = True) -> Job:
        """The document's job; raises (any exception) when it cannot be read."""
        data = dict(doc)
        if load_results and self.results.file_id(data.get("results")) is not None:
            data["results"] = self.results.load(data["results"])
        return Job.from_dict(unescape_user_data(data))

    def _job(self, doc: Mapping[str, Any], load_results: bool = True) -> Job:
        """The document's job, or its broken stand-in (see :mod:`.broken`)."""
        try:
            return self._decode(doc, load_results)
        except Exception as exc:  # whatever is wrong with it, it is this one job's problem
            return broken_job(doc, problem_of(exc))

    def _quarantine(self, doc: Mapping[str, Any], problem: str, now: datetime) -> None:
        """Fail a just-claimed document that cannot be read with ``INVALID_DOCUMENT`` (not
        retried, not announced: no hook can be given a job that cannot be read)."""
        try:
            self.jobs.update_one(
                {"_id": doc["_id"], "status": "processing"},
                change_update(lifecycle.quarantined(quarantine_error(problem), now)),
            )
        except PyMongoError as exc:
            log.error(
                "skipped job %r: it cannot be read (%s) nor failed (%s)",
                doc.get("job_id"),
                problem,
                exc,
            )
            return
        log.error("quarantined job %r: %s: %s", doc.get("job_id"), errors.INVALID_DOCUMENT, problem)
        if isinstance(doc.get("batch_id"), str):
            self.counters.move([(doc["batch_id"], "pending", "failed")], now)

    def _job_doc(self, job: Job) -> tuple[dict[str, Any], Any | None]:
        doc = escape_user_data(job.to_dict())
        doc.setdefault("available_at", job.created_at)
        if len(doc["logs"]) > self.log_cap:
            doc["logs"] = doc["logs"][-self.log_cap :] if self.log_cap > 0 else []
        file_id = None
        if job.results is not None:
            doc["results"], file_id = self.results.prepare(job.job_id, escape(job.results))
        return doc, file_id

    # -- submitting and reading ------------------------------------------------------------

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

    # -- the worker's operations -----------------------------------------------------------

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        if claim.limit <= 0:
            return []
        self._normalise_legacy()
        allowed = None if claim.types is None else {job_type_of(t) for t in claim.types}
        slots = dict(claim.type_slots)
        locks: list[tuple[str, str]] = []
        claimed: list[Job] = []
        update = change_update(lifecycle.claimed(claim.worker_id, claim.lease_seconds, now))
        try:
            for job_type, limit in claim.cluster_limits.items():
                if allowed is not None and job_type not in allowed:
                    continue
                token = self.limits.acquire(job_type)
                if token is None:
                    slots[job_type] = 0  # another claimer is taking this type right now
                    continue
                locks.append((job_type, token))
                running = self.jobs.count_documents(
                    {"status": "processing", "job_type": type_match(job_type)}
                )
                room = max(0, limit - running)
                slots[job_type] = min(slots.get(job_type, room), room)
            rounds = 0
            while len(claimed) < claim.limit:
                if allowed is None and any(n <= 0 for n in slots.values()):
                    # Any type but some full ones: claim with $in over the types that are
                    # pending (a DISTINCT_SCAN of the claim index), not with a $nin range.
                    pending = self.jobs.distinct("job_type", {"status": "pending"})
                    allowed = {job_type_of(t) for t in pending}
                query = claim_query(allowed, slots, now)
                if query is None:
                    break
                if isinstance(update, dict) and not slots and claim.limit - len(claimed) > 1:
                    rounds += 1
                    docs, seen = claim_group(
                        self.jobs, query, update, claim.limit - len(claimed), _NO_LOGS
                    )
                    claimed += self._claimed(docs, now)
                    if seen == len(docs) or rounds >= 3:  # or others took some: look again
                        break
                    continue
                doc = self.jobs.find_one_and_update(
                    query, update, sort=_CLAIM_SORT, projection=_NO_LOGS, return_document=_AFTER
                )
                if doc is None:
                    break
                for job in self._claimed([doc], now):
                    claimed.append(job)
                    if job.job_type in slots:
                        slots[job.job_type] -= 1
        finally:
            for job_type, token in locks:
                try:
                    self.limits.release(job_type, token)
                except PyMongoError:
                    log.warning("could not release the %s limit lock (expires by itself)", job_type)
            self.counters.move([(j.batch_id, "pending", "processing") for j in claimed], now)
        return claimed

    def _claimed(self, docs: list[dict[str, Any]], now: datetime) -> list[Job]:
        """The jobs of claimed documents; unreadable ones are quarantined instead."""
        jobs = []
        for doc in docs:
            try:
                jobs.append(self._decode(doc))
            except Exception as exc:  # one unreadable document: quarantine it, go on
                self._quarantine(doc, problem_of(exc), now)
        return jobs

    def _normalise_legacy(self, force: bool = False) -> None:
        """Give pending documents written by the old system (no ``priority``/``available_at``)
        those fields, so the claim orders them with everyone else (oldest first). The claim
        finds them without this too (missing ``available_at`` counts as due); this only stops
        them sorting after every new job. Old readers ignore both fields."""
        if not force:  # from claims and sweeps: at most every _NORMALISE_EVERY seconds
            if time.monotonic() - self._normalised_at < _NORMALISE_EVERY:
                return
            self._normalised_at = time.monotonic()
        self.jobs.update_many(
            {"status": "pending", "$or": [{"priority": None}, {"available_at": None}]},
            [
                {
                    "$set": {
                        "priority": {"$ifNull": ["$priority", 0]},
                        "available_at": {"$ifNull": ["$available_at", "$created_at"]},
                    }
                }
            ],
        )

    def heartbeat(
        self, worker_id: str, job_ids: Collection[str], lease_seconds: float, now: datetime
    ) -> tuple[set[str], set[str]]:
        if not job_ids:
            return set(), set()
        held_query = {
            "job_id": {"$in": list(job_ids)},
            "lease_owner": worker_id,
            "status": "processing",
        }
        self.jobs.update_many(
            held_query,
            {
                "$set": {
                    "lease_expires_at": now + timedelta(seconds=lease_seconds),
                    "heartbeat_at": now,
                }
            },
        )
        rows = list(self.jobs.find(held_query, {"job_id": 1, "cancel_requested": 1}))
        held = {r["job_id"] for r in rows}
        return {r["job_id"] for r in rows if r.get("cancel_requested")}, set(job_ids) - held

    def save_progress(
        self, worker_id: str, updates: Mapping[str, JobProgress], now: datetime
    ) -> None:
        if not updates:
            return
        job_ids = list(updates)
        try:
            self.jobs.bulk_write(
                [
                    UpdateOne(
                        {"job_id": job_id, "lease_owner": worker_id, "status": "processing"},
                        {"$set": {"progress": self._progress_doc(p), "updated_at": now}},
                    )
                    for job_id, p in updates.items()
                ],
                ordered=False,
            )
        except BulkWriteError as exc:  # the others were written: never replay them
            errors_ = exc.details.get("writeErrors", [])
            if not errors_:
                raise
            self._refused([job_ids[e["index"]] for e in errors_], errors_[0], "progress", now)

    def exchange(
        self,
        worker_id: str,
        now: datetime,
        *,
        logs: Sequence[tuple[str, LogEntry]] = (),
        progress: Mapping[str, JobProgress] | None = None,
        outcomes: Sequence[Outcome] = (),
        claim: Claim | None = None,
        announced: Collection[str] = (),
        announced_batches: Collection[str] = (),
    ) -> tuple[list[Transition], list[Job]]:
        done, claimed = super().exchange(
            worker_id,
            now,
            logs=logs,
            progress=progress,
            outcomes=outcomes,
            claim=claim,
            announced=announced,
            announced_batches=announced_batches,
        )
        failed, self._store_failed = self._store_failed, []
        return failed + done, claimed

    def _progress_doc(self, p: JobProgress) -> dict[str, Any] | None:
        message = None if p.message is None else cut(storable_text(p.message), self.log_message_max)
        return progress_doc(JobProgress(p.step, p.percent, message))

    def _refused(
        self, job_ids: list[str], error: Mapping[str, Any], what: str, now: datetime
    ) -> None:
        """Writes of these jobs the server refused. One that can never succeed (the document
        would pass 16 MiB) fails its job with ``DOCUMENT_TOO_LARGE`` (reported by the next
        :meth:`exchange`); anything else is dropped with one log line."""
        if error.get("code") not in TOO_LARGE_CODES:
            log.error("dropped the %s of job(s) %s: %s", what, job_ids, error.get("errmsg"))
            return
        problem = f"the job document would pass 16 MiB ({what}): {error.get('errmsg')}"
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for job_id in job_ids:
            out = Outcome(
                job_id,
                "",
                "failed",
                error=JobError(errors.DOCUMENT_TOO_LARGE, problem, {"code": error.get("code")}),
            )
            change = lifecycle.outcome_change(out, now)
            target = change.status.value
            doc = self.jobs.find_one_and_update(
                {"job_id": job_id, "status": "processing"},
                change_update(change),
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is None:
                log.error("dropped the %s of job %s: %s", what, job_id, problem)
                continue
            job = self._job(doc, load_results=False)
            moves.append((job.batch_id, "processing", target))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        self._store_failed.extend(done)

    def append_logs(self, entries: Sequence[tuple[str, LogEntry]]) -> None:
        if not entries:
            return
        by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for job_id, e in entries:
            by_job[job_id].append(
                {
                    "timestamp": e.timestamp,
                    "level": e.level.value,
                    "message": cut(storable_text(e.message), self.log_message_max),
                }
            )
        ops = []
        job_ids: list[str] = []
        for job_id, docs in by_job.items():
            # Only the newest log_cap entries can stay: pushing more would only make the
            # update larger (log_cap x log_message_max bytes at most, well under 16 MiB).
            docs = docs[-self.log_cap :] if self.log_cap > 0 else []
            if not docs:
                continue
            push: dict[str, Any] = {"$each": docs, "$slice": -self.log_cap}
            latest = max(d["timestamp"] for d in docs)
            job_ids.append(job_id)
            ops.append(
                UpdateOne(
                    {"job_id": job_id}, {"$push": {"logs": push}, "$max": {"updated_at": latest}}
                )
            )
        if not ops:
            return
        try:
            self.jobs.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:  # unordered: the other jobs' entries were written
            failed = [e["index"] for e in exc.details.get("writeErrors", [])]
            if not failed:
                raise
            self._repair_logs([job_ids[i] for i in failed], [ops[i] for i in failed])

    def _repair_logs(self, job_ids: list[str], ops: list[UpdateOne]) -> None:
        """Jobs whose ``logs`` is not an array (hand-edited, ``null``) get a fresh one, then
        their entries are pushed again; entries that still cannot be written are dropped with
        one log line: a broken document never blocks other jobs' logs."""
        self.jobs.update_many(
            {"job_id": {"$in": job_ids}, "logs": {"$not": {"$type": "array"}}},
            {"$set": {"logs": []}},
        )
        try:
            self.jobs.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors_ = exc.details.get("writeErrors", [])
            if not errors_:
                raise
            too_large = [e for e in errors_ if e.get("code") in TOO_LARGE_CODES]
            if too_large:
                ids = [job_ids[e["index"]] for e in too_large]
                self._refused(ids, too_large[0], "logs", datetime.now(timezone.utc))
            log.error(
                "dropped log entries of job(s) %s: %s",
                [job_ids[e["index"]] for e in errors_],
                errors_[0].get("errmsg"),
            )

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[Transition]:
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for out in outcomes:
            try:
                doc, file_id, target = self._apply(out, now)
            except _UNSTORABLE as exc:  # what this attempt returned cannot be stored
                out = unstorable(out, exc)
                doc, file_id, target = self._apply(out, now)
            if doc is None:
                if file_id is not None:
                    self.results.delete([file_id])
                continue
            job = self._job(doc, load_results=False)
            if out.kind == "completed":
                job.results = dict(out.results or {})
            moves.append((job.batch_id, "processing", target))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done

    def _apply(self, out: Outcome, now: datetime) -> tuple[dict[str, Any] | None, Any, str]:
        """Write one outcome: ``(the job document after it or None, GridFS id, status)``."""
        file_id = None
        results = None
        if out.kind == "completed":
            results, file_id = self.results.prepare(out.job_id, escape(out.results))
        change = lifecycle.outcome_change(out, now)
        target = change.status.value
        update = change_update(change, results)
        try:
            doc = self.jobs.find_one_and_update(
                {"job_id": out.job_id, "lease_owner": out.worker_id, "status": "processing"},
                update,
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
        except _UNSTORABLE:
            if file_id is not None:
                self.results.delete([file_id])
            raise
        return doc, file_id, target

    def recover_expired(self, now: datetime, backoff: float | Backoff = 2.0) -> list[Transition]:
        self._normalise_legacy()
        policy = Backoff.of(backoff)
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        expired = list(
            self.jobs.find(
                expired_query(now, now - timedelta(seconds=self.orphan_after)),
                {
                    "_id": 1,
                    "job_id": 1,
                    "job_type": 1,
                    "attempts": 1,
                    "max_attempts": 1,
                    "lease_owner": 1,
                    "lease_expires_at": 1,
                },
            )
        )
        for row in expired:
            owner = row.get("lease_owner") if isinstance(row.get("lease_owner"), str) else None
            job_type = row.get("job_type")
            out = lifecycle.lease_expired(
                str(row.get("job_id")),
                owner,
                job_type=job_type_of(job_type) if isinstance(job_type, (str, type(None))) else None,
                attempts=as_int(row.get("attempts"), 0),
                max_attempts=as_int(row.get("max_attempts"), 3),
                backoff=policy,
                now=now,
            )
            change = lifecycle.outcome_change(out, now)
            # Only if nobody renewed or finished it since we looked.
            doc = self.jobs.find_one_and_update(
                {
                    "_id": row["_id"],
                    "status": "processing",
                    "lease_owner": row.get("lease_owner"),
                    "lease_expires_at": row.get("lease_expires_at"),
                },
                change_update(change),
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is None:
                continue
            job = self._job(doc)
            moves.append((job.batch_id, "processing", change.status.value))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done

    # -- users' operations -----------------------------------------------------------------

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

    # -- the worker registry ---------------------------------------------------------------

    def register_worker(self, record: WorkerRecord) -> None:
        self.registry.put(record)

    def workers(self) -> list[WorkerRecord]:
        return self.registry.all()

    def prune_workers(self, before: datetime) -> int:
        return self.registry.prune(before)

    def pending_types(self) -> set[str]:
        # ``distinct`` over the typed claim index (status, job_type, ...): a DISTINCT_SCAN.
        return {job_type_of(t) for t in self.jobs.distinct("job_type", {"status": "pending"})}

    def fail_pending(
        self, messages: Mapping[str, str], now: datetime, limit: int = 500
    ) -> list[Transition]:
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for job_type, message in messages.items():
            error = JobError(errors.UNKNOWN_JOB_TYPE, message, {"job_type": job_type})
            line = {
                "timestamp": now,
                "level": "error",
                "message": f"{errors.UNKNOWN_JOB_TYPE}: {message}",
            }
            update = change_update(
                lifecycle.failed_pending(error, now), log=line, log_cap=self.log_cap
            )
            query = {"status": "pending", "job_type": type_match(job_type)}
            for row in list(self.jobs.find(query, {"_id": 1}).limit(limit)):
                doc = self.jobs.find_one_and_update(
                    {"_id": row["_id"], **query},
                    update,
                    projection=_NO_LOGS,
                    return_document=_AFTER,
                )
                if doc is None:  # claimed or cancelled meanwhile
                    continue
                job = self._job(doc)
                moves.append((job.batch_id, "pending", "failed"))
                done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done

    # -- waking idle workers ---------------------------------------------------------------

    def watcher(self) -> ChangeStreamNotifier | None:
        """Any change of the jobs collection (``None`` without change streams)."""
        notifier = ChangeStreamNotifier.open(self.jobs, pipeline=[])
        if notifier is not None:
            self._notifiers.append(notifier)
        return notifier

    def api_keys(self) -> MongoKeys:
        return MongoKeys(self.db.get_collection("jobworker_api_keys"))

    def notifier(self, types: Collection[str] | None = None) -> ChangeStreamNotifier | None:
        """A change-stream wake-up channel (new jobs of ``types`` only, when given), or
        ``None`` (no change streams here: poll)."""
        values = None if types is None else type_values(types)
        notifier = ChangeStreamNotifier.open(self.jobs, pipeline=wake_pipeline(values))
        if notifier is not None:
            self._notifiers.append(notifier)
        return notifier
