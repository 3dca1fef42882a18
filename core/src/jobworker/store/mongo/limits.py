"""Cluster-wide per-type concurrency limits for the MongoDB store.

A claim of a type with a cluster limit holds that type's lock (one document per type in the
``jobworker_limits`` collection) while it counts the type's ``processing`` jobs and takes at
most ``limit - running`` more. All claimers that honour the limit serialise on the lock, so the
count they see already includes every job any of them claimed: the limit holds exactly across
processes and hosts, however many claim at once.

Why a lock and not a running-jobs counter (``$inc`` with a ``running < limit`` filter): a
counter has to be decremented by every transition out of ``processing`` (finish, lease recovery,
cancel) in a second write, and a worker that dies between the two writes leaves it wrong for
ever. The lock holds no state that outlives it: it expires after :attr:`TypeLocks.ttl` seconds
if its holder dies, and the count is always recomputed from the jobs themselves.

The critical section is one ``count_documents`` and a few ``find_one_and_update`` calls (a few
milliseconds). A claimer that finds a type locked retries briefly and then skips the type for
this claim; its next poll or wake-up tries again.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

__all__ = ["TypeLocks"]


class TypeLocks:
    """Short-lived mutual exclusion per (jobs collection, job type)."""

    def __init__(
        self, collection: Collection[Any], namespace: str, ttl: float = 30.0, attempts: int = 5
    ) -> None:
        self.collection = collection
        self.namespace = namespace
        self.ttl = ttl
        self.attempts = attempts

    def _key(self, job_type: str) -> str:
        return f"{self.namespace}:{job_type}"

    def acquire(self, job_type: str) -> str | None:
        """A token for the type's lock, or ``None`` if another claimer keeps holding it."""
        token = uuid.uuid4().hex
        for attempt in range(self.attempts):
            now = datetime.now(timezone.utc)
            try:
                # Matches a free or expired lock; when the lock is held the upsert's insert
                # collides with the existing _id, which is how "busy" is reported.
                self.collection.find_one_and_update(
                    {
                        "_id": self._key(job_type),
                        "$or": [{"holder": None}, {"expires_at": {"$lt": now}}],
                    },
                    {
                        "$set": {
                            "holder": token,
                            "expires_at": now + timedelta(seconds=self.ttl),
                            "acquired_at": now,
                        }
                    },
                    upsert=True,
                )
                return token
            except DuplicateKeyError:
                time.sleep(0.005 * (attempt + 1))
        return None

    def release(self, job_type: str, token: str) -> None:
        self.collection.update_one(
            {"_id": self._key(job_type), "holder": token}, {"$set": {"holder": None}}
        )
