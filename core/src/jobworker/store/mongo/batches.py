"""Batch documents of the MongoDB store: creating/growing a batch and moving its counters.

MongoDB has no multi-document atomicity without transactions (which a standalone server lacks),
so a job transition is two writes: first the job's conditional ``find_one_and_update``, the
single point that decides the transition happened (exactly once), then its batch's counters,
moved by one atomic update. A worker that dies between the two leaves one counter move undone.

:meth:`BatchCounters.repair` puts that right from the job documents (which are always right):
only for batches still ``processing`` whose document has not moved for a while (no live worker
has a move in flight), recounting their jobs by status and setting the four status counters
with a compare-and-set. ``total_jobs`` is never recounted: legacy batches may count jobs that
were never stored (``docs/legacy-schema.md``), and the old system itself ``$set``s
``completed_jobs``/``failed_jobs`` from a count of the jobs, so a recount writes what it would.
Recounting only stale, unfinished batches is the decision; see ``docs/mongodb.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from ...lifecycle import (
    BATCH_FINISHED,
    BATCH_REOPENED,
    COUNTER,
    batch_grown,
    batch_verdict,
    counter_deltas,
    stored_count,
)
from ...model import Batch, utcnow
from ..base import Transition
from ..broken import read_batch

__all__ = ["BatchCounters", "attach_batches"]

log = logging.getLogger(__name__)

_VERDICT_FIELDS = {"_id": 0, "status": 1, "completed_jobs": 1, "failed_jobs": 1, "total_jobs": 1}
_STATUS_COUNTERS = tuple(COUNTER.values())
_DONE = {"$add": [{"$ifNull": ["$completed_jobs", 0]}, {"$ifNull": ["$failed_jobs", 0]}]}
_TOTAL = {"$ifNull": ["$total_jobs", 0]}
#: The "move" of a recount: every counter may have changed, so the verdict is the full one (a
#: dead worker may have moved the counters but not marked the batch finished).
_RECOUNTED = {"completed_jobs": 1, "failed_jobs": 1}


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
            if after is not None:
                finished += self._settle(batch_id, delta, after, now)
        return finished

    def _settle(
        self, batch_id: str, delta: dict[str, int], after: dict[str, Any], now: datetime
    ) -> list[Batch]:
        """Finish or reopen a batch whose counters moved by ``delta`` to ``after``, as
        :func:`~jobworker.lifecycle.batch_verdict` says; return it if this call finished it."""
        verdict = batch_verdict(
            delta,
            after.get("status"),
            after.get("completed_jobs"),
            after.get("failed_jobs"),
            after.get("total_jobs"),
        )
        if verdict == "finish":
            doc = self.batches.find_one_and_update(
                {
                    "batch_id": batch_id,
                    "status": {"$ne": "completed"},
                    "$expr": {"$gte": [_DONE, _TOTAL]},
                },
                {"$set": {**BATCH_FINISHED, "completed_at": now}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return [read_batch(doc)]
        elif verdict == "reopen":
            self.batches.update_one(
                {"batch_id": batch_id, "status": "completed", "$expr": {"$lt": [_DONE, _TOTAL]}},
                {
                    "$set": dict(BATCH_REOPENED),
                    "$unset": {"completed_at": "", "announce_pending": ""},
                },
            )
        return []

    def repair(
        self, jobs: Collection[Any], stale: datetime, now: datetime, limit: int = 20
    ) -> list[Batch]:
        """Recount the status counters of up to ``limit`` batches still ``processing`` whose
        document was last updated before ``stale``, from their jobs; return the batches this
        finished (``announce_pending``: the announce-again sweep reports them).

        A worker killed between its job write and its counter move leaves a counter move
        undone. A batch is looked at only once no counter moved for the staleness window (a
        live worker moves counters milliseconds after its job write); the counters are set by a
        compare-and-set on the values read and ``updated_at``, so a move landing meanwhile
        wins (and the batch is looked at again later). Batches found right get ``updated_at``
        = ``now`` the same way, so the next sweep looks at others. Index-served: the
        ``jobworker_stale`` index of batches, the ``jobworker_batch`` index (covered) of jobs.
        """
        fields = {"_id": 0, "batch_id": 1, "updated_at": 1, **dict.fromkeys(_STATUS_COUNTERS, 1)}
        candidates = list(
            self.batches.find({"status": "processing", "updated_at": {"$lt": stale}}, fields).limit(
                limit
            )
        )
        finished: list[Batch] = []
        for doc in candidates:
            batch_id = doc.get("batch_id")
            if not isinstance(batch_id, str):
                continue
            counts = dict.fromkeys(_STATUS_COUNTERS, 0)
            for row in jobs.aggregate(
                [
                    {"$match": {"batch_id": batch_id, "status": {"$in": list(COUNTER)}}},
                    {"$group": {"_id": "$status", "n": {"$sum": 1}}},
                ]
            ):
                counts[COUNTER[str(row["_id"])]] = int(row["n"])
            seen = {name: doc.get(name) for name in _STATUS_COUNTERS}
            read = {"batch_id": batch_id, "updated_at": doc.get("updated_at"), **seen}
            wrong = {n for n in counts if counts[n] != stored_count(seen[n]) or seen[n] is None}
            # Right counters too get updated_at = now, so the next sweep looks at others.
            after = self.batches.find_one_and_update(
                read,
                {"$set": {**counts, "updated_at": now}},
                projection=_VERDICT_FIELDS,
                return_document=ReturnDocument.AFTER,
            )
            if after is None:  # a move landed meanwhile: it wins, look again later
                continue
            if wrong:
                log.warning(
                    "repaired the counters of batch %r (a worker died between a job's write and "
                    "its counter move): %s, recounted from its jobs: %s",
                    batch_id,
                    seen,
                    counts,
                )
            done = self._settle(batch_id, _RECOUNTED, after, now)
            if done:
                log.warning("finished batch %r, which a dead worker left unfinished", batch_id)
            finished += done
        return finished


def attach_batches(done: list[Transition], finished: list[Batch]) -> None:
    """Report each finished batch once, on the transition of one of its jobs."""
    by_id = {b.batch_id: b for b in finished}
    for t in done:
        if t.job.batch_id in by_id and t.job.status.terminal:
            t.batch_finished = by_id.pop(t.job.batch_id)
