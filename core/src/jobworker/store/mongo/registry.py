"""The MongoDB store's worker registry: one document per worker in a collection beside the jobs.

The collection is ``<jobs collection>_workers`` unless the URL option ``workers_collection``
names another; ``store init`` creates it with its index. A document is a
:class:`~jobworker.fleet.WorkerRecord` (``_id`` = ``worker_id``), replaced whole by each
heartbeat (one ``replace_one`` with upsert, next to the heartbeat's lease renewal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from ...fleet import WorkerRecord

__all__ = ["WorkerRegistry"]


class WorkerRegistry:
    def __init__(self, collection: Collection[Any]) -> None:
        self.collection = collection

    def create_indexes(self) -> list[str]:
        # Pruning finds old records by when they were last seen.
        return [self.collection.create_index([("last_seen", ASCENDING)], name="jobworker_seen")]

    def put(self, record: WorkerRecord) -> None:
        doc = record.to_dict()
        doc["last_seen"] = record.last_seen
        self.collection.replace_one({"_id": record.worker_id}, doc, upsert=True)

    def all(self) -> list[WorkerRecord]:
        records = [WorkerRecord.from_dict(doc) for doc in self.collection.find()]
        return sorted(records, key=lambda r: (r.started_at, r.worker_id))

    def prune(self, before: datetime) -> int:
        return self.collection.delete_many({"last_seen": {"$lt": before}}).deleted_count
