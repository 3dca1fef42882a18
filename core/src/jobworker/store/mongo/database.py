"""The MongoDB store's database: the client, its collections and read/write concerns, indexes,
documents to jobs and back, legacy normalising and change-stream wake-ups."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any, Self

from bson.errors import InvalidDocument
from pymongo import ASCENDING, MongoClient, ReadPreference, ReturnDocument
from pymongo.errors import (
    ConfigurationError,
    WriteError,
)
from pymongo.read_concern import ReadConcern

from ...model import Job, JobProgress
from ..base import Store, StoreError, Transition
from ..broken import broken_job, problem_of, storable_text
from ..sizes import LOG_MESSAGE_MAX, check_budget, cut
from .apikeys import MongoKeys
from .batches import BatchCounters
from .changes import progress_doc
from .keys import escape, escape_user_data, unescape_user_data
from .limits import TypeLocks
from .notify import ChangeStreamNotifier, wake_pipeline
from .queries import type_values
from .registry import WorkerRegistry
from .results import ResultsSpill
from .schema import (
    COLLECTION_PRESETS,
    DEFAULT_GRIDFS_THRESHOLD,
    LIMITS_COLLECTION,
    OWN_OPTIONS,
    ensure_indexes,
    mask_url,
    split_url,
)

__all__ = ["MongoDatabase"]

_NO_LOGS = {"logs": 0}

# Errors that mean "this document cannot be written", not "the server is unreachable".
_UNSTORABLE = (StoreError, InvalidDocument, WriteError, OverflowError, TypeError, ValueError)

#: A processing job without a lease (left by the old system) is reclaimed once its last update
#: is this many seconds old (store option ``orphan_after``).
DEFAULT_ORPHAN_AFTER = 3600.0

#: Result files younger than this are never swept as orphans (their job may be finishing).
ORPHAN_FILE_MARGIN = timedelta(hours=1)

_AFTER = ReturnDocument.AFTER


_SOONEST = [("available_at", ASCENDING)]

# How often a store instance gives legacy pending documents the fields the claim sorts on.
_NORMALISE_EVERY = 10.0


class MongoDatabase(Store):
    """One MongoDB database and its collections (what every part of the store uses)."""

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
    def from_url(cls, url: str, **options: Any) -> Self:
        """The store for ``url``; ``options`` (the config's ``[store_options]`` table) give
        defaults for the options the URL does not set. Unknown options are ignored."""
        known = {k: v for k, v in options.items() if k in OWN_OPTIONS}
        return cls(url, **known)

    def init(self) -> None:
        """Create the indexes (idempotent) and make legacy pending jobs claimable in order."""
        self.create_indexes()
        self._normalise_legacy(force=True)

    def create_indexes(self) -> list[str]:
        """Make sure every index the store's queries use exists (idempotent; reuses equivalent
        indexes, see :func:`~.schema.ensure_indexes`); return their names."""
        return ensure_indexes(self.jobs, self.batches) + self.registry.create_indexes()

    def close(self) -> None:
        for n in self._notifiers:
            n.close()
        self._notifiers.clear()
        self.client.close()

    def drop_database(self) -> None:
        """Delete the whole database (tests)."""
        self.client.drop_database(self.database_name)

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

    def _job_doc(self, job: Job) -> tuple[dict[str, Any], Any | None]:
        doc = escape_user_data(job.to_dict())
        doc.setdefault("available_at", job.created_at)
        if len(doc["logs"]) > self.log_cap:
            doc["logs"] = doc["logs"][-self.log_cap :] if self.log_cap > 0 else []
        file_id = None
        if job.results is not None:
            doc["results"], file_id = self.results.prepare(job.job_id, escape(job.results))
        return doc, file_id

    def _progress_doc(self, p: JobProgress) -> dict[str, Any] | None:
        message = None if p.message is None else cut(storable_text(p.message), self.log_message_max)
        return progress_doc(JobProgress(p.step, p.percent, message))

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

    def watcher(self) -> ChangeStreamNotifier | None:
        """Any change of the jobs collection (``None`` without change streams)."""
        return self._kept(ChangeStreamNotifier.open(self.jobs, pipeline=[]))

    def api_keys(self) -> MongoKeys:
        return MongoKeys(self.db.get_collection("jobworker_api_keys"))

    def notifier(self, types: Collection[str] | None = None) -> ChangeStreamNotifier | None:
        """A change-stream wake-up channel (new jobs of ``types`` only, when given), or
        ``None`` (no change streams here: poll)."""
        values = None if types is None else type_values(types)
        return self._kept(ChangeStreamNotifier.open(self.jobs, pipeline=wake_pipeline(values)))

    def _kept(self, notifier: ChangeStreamNotifier | None) -> ChangeStreamNotifier | None:
        """Keep ``notifier`` to close with the store, forgetting those closed already (a
        worker opens a new one at each plugin reload that changes its types)."""
        if notifier is not None:
            self._notifiers = [n for n in self._notifiers if not n.closed] + [notifier]
        return notifier
