"""Batch documents of the MongoDB store: creating/growing a batch and moving its counters.

MongoDB has no multi-document atomicity without transactions (which a standalone server lacks),
so a job transition is two writes: first the job's conditional ``find_one_and_update``, the
single point that decides the transition happened (exactly once), then its batch's counters,
moved by one atomic update. A worker that dies between the two leaves one counter move undone;
``jobworker`` never recounts behind the old system's back, see ``docs/mongodb.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from ...lifecycle import (
    BATCH_FINISHED,
    BATCH_REOPENED,
    batch_grown,
    batch_verdict,
    counter_deltas,
)
from ...model import Batch, utcnow
from ..base import Transition
from ..broken import read_batch

__all__ = ["BatchCounters", "attach_batches"]

_VERDICT_FIELDS = {"_id": 0, "status": 1, "completed_jobs": 1, "failed_jobs": 1, "total_jobs": 1}


class BatchCounters:
    """The batch operations of one batches collection."""

    def __init__(self, batches: Collection[Any]) -> None:
        self.batches = batches

    def open(self, batch: Batch, n: int) -> bool:
        """Store ``batch`` for ``n`` new jobs before they are inserted (so their counter moves
        always find it); an existing batch of that id grows by ``n`` and is processing again.
        Returns whether it existed."""
        while True:
            if n:
                grow: dict[str, Any] = {
                    "$inc": batch_grown(n),
                    "$set": {**BATCH_REOPENED, "updated_at": utcnow()},
                    "$unset": {"completed_at": ""},
                }
                if self.batches.find_one_and_update({"batch_id": batch.batch_id}, grow):
                    return True
            elif self.batches.find_one({"batch_id": batch.batch_id}, {"_id": 1}):
                return True
            batch.total_jobs = batch.pending_jobs = n
            try:
                self.batches.insert_one(batch.to_dict())
                return False
            except DuplicateKeyError:
                continue  # created by a concurrent enqueue just now: grow it instead

    def grow(self, batch_id: str, n: int) -> None:
        """Add ``n`` (may be negative) to a batch's total and pending jobs."""
        self.batches.update_one({"batch_id": batch_id}, {"$inc": batch_grown(n)})

    def move(self, moves: Sequence[tuple[str | None, str, str]], now: datetime) -> list[Batch]:
        """Apply counter moves (batch, from status, to status); return batches just finished.

        One atomic update per batch adds the deltas (:func:`~jobworker.lifecycle.counter_deltas`,
        written as an update pipeline so a counter never goes below 0: legacy batches carry
        ``pending_jobs`` and ``processing_jobs`` = 0 that the old system never kept up to date)
        and returns the counters. When :func:`~jobworker.lifecycle.batch_verdict` says the
        batch finished, one conditional update marks it completed, so exactly one caller
        reports it (the condition re-checks the verdict atomically); a batch whose jobs came
        back reopens the same way.
        """
        finished = []
        for batch_id, delta in counter_deltas(moves).items():
            sets: dict[str, Any] = {
                name: {"$max": [0, {"$add": [{"$ifNull": [f"${name}", 0]}, n]}]}
                for name, n in delta.items()
            }
            sets["updated_at"] = now
            after = self.batches.find_one_and_update(
                {"batch_id": batch_id},
                [{"$set": sets}],
                projection=_VERDICT_FIELDS,
                return_document=ReturnDocument.AFTER,
            )
            if after is None:
                continue
            verdict = batch_verdict(
                delta,
                after.get("status"),
                after.get("completed_jobs"),
                after.get("failed_jobs"),
                after.get("total_jobs"),
            )
            done = {"$add": [{"$ifNull": ["$completed_jobs", 0]}, {"$ifNull": ["$failed_jobs", 0]}]}
            total = {"$ifNull": ["$total_jobs", 0]}
            if verdict == "finish":
                doc = self.batches.find_one_and_update(
                    {
                        "batch_id": batch_id,
                        "status": {"$ne": "completed"},
                        "$expr": {"$gte": [done, total]},
                    },
                    {"$set": {**BATCH_FINISHED, "completed_at": now}},
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:
                    finished.append(read_batch(doc))
            elif verdict == "reopen":
                self.batches.update_one(
                    {"batch_id": batch_id, "status": "completed", "$expr": {"$lt": [done, total]}},
                    {
                        "$set": dict(BATCH_REOPENED),
                        "$unset": {"completed_at": "", "announce_pending": ""},
                    },
                )
        return finished


def attach_batches(done: list[Transition], finished: list[Batch]) -> None:
    """Report each finished batch once, on the transition of one of its jobs."""
    by_id = {b.batch_id: b for b in finished}
    for t in done:
        if t.job.batch_id in by_id and t.job.status.terminal:
            t.batch_finished = by_id.pop(t.job.batch_id)
