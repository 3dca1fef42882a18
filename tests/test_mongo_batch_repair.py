"""Batch counters a worker killed between its two writes left wrong are recounted from the jobs
(``BatchCounters.repair``, docs/mongodb.md "Batch counters"), and only once no move can be in
flight."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from jobworker.model import Batch, Job, JobParameters, utcnow
from jobworker.store import Claim, Outcome

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]

LEASE = 30


@pytest.fixture
def backend() -> str:
    """Overrides conftest's backend list: these tests are MongoDB's own."""
    return "mongo"


def finished_batch_with_last_move_undone(store, n: int = 3) -> Batch:
    """A batch whose ``n`` jobs all completed through the store, then its last counter move
    undone in the batch document: what a SIGKILL between the job write and the move leaves."""
    batch = Batch(batch_name="crash")
    store.enqueue([Job("echo", JobParameters.from_dict({"text": str(i)})) for i in range(n)], batch)
    jobs = store.claim(Claim("w1", LEASE, n), utcnow())
    assert len(jobs) == n
    done = store.finish([Outcome(j.job_id, "w1", "completed") for j in jobs], utcnow())
    assert [t.batch_finished.batch_id for t in done if t.batch_finished] == [batch.batch_id]
    store.mark_announced([j.job_id for j in jobs], [batch.batch_id])
    store.batches.update_one(
        {"batch_id": batch.batch_id},
        {
            "$inc": {"completed_jobs": -1, "processing_jobs": 1},
            "$set": {"status": "processing"},
            "$unset": {"completed_at": "", "announce_pending": ""},
        },
    )
    b = store.get_batch(batch.batch_id)
    assert (b.status, b.completed_jobs, b.processing_jobs) == ("processing", n - 1, 1)
    return batch


def test_a_stale_batch_with_a_lost_counter_move_is_recounted_and_finished_once(store):
    batch = finished_batch_with_last_move_undone(store)
    later = utcnow() + timedelta(seconds=3 * LEASE)
    stale = later - timedelta(seconds=2 * LEASE)

    assert store.unannounced_batches(later) == []
    assert [b.batch_id for b in store.repair_batches(stale, later)] == [batch.batch_id]

    b = store.get_batch(batch.batch_id)
    assert (b.pending_jobs, b.processing_jobs, b.completed_jobs, b.failed_jobs) == (0, 0, 3, 0)
    assert (b.status, b.total_jobs) == ("completed", 3)
    # The announce-again sweep reports it, exactly once.
    much_later = later + timedelta(seconds=3 * LEASE)
    assert [b.batch_id for b in store.unannounced_batches(much_later)] == [batch.batch_id]
    store.mark_announced([], [batch.batch_id])
    assert store.unannounced_batches(much_later) == []
    # A finished batch is not looked at again.
    assert store.repair_batches(much_later, much_later) == []
    assert store.unannounced_batches(much_later + timedelta(seconds=LEASE)) == []


def test_lost_claim_moves_are_recounted_without_finishing_the_batch(store):
    batch = Batch(batch_name="claims")
    store.enqueue([Job("echo", JobParameters.from_dict({"text": "x"})) for _ in range(4)], batch)
    store.claim(Claim("w1", LEASE, 2), utcnow())
    store.batches.update_one(  # both claim moves lost
        {"batch_id": batch.batch_id}, {"$inc": {"pending_jobs": 2, "processing_jobs": -2}}
    )
    later = utcnow() + timedelta(seconds=3 * LEASE)
    assert store.repair_batches(later - timedelta(seconds=2 * LEASE), later) == []
    b = store.get_batch(batch.batch_id)
    assert (b.pending_jobs, b.processing_jobs, b.completed_jobs, b.status) == (
        2,
        2,
        0,
        "processing",
    )


def test_a_batch_with_a_move_in_flight_is_not_recounted(store):
    batch = finished_batch_with_last_move_undone(store)
    now = utcnow()
    # Its document moved just now (updated_at within the staleness window): the dying
    # worker's... or a live worker's move may be on its way; the batch is left alone.
    assert store.repair_batches(now - timedelta(seconds=2 * LEASE), now) == []
    b = store.get_batch(batch.batch_id)
    assert (b.status, b.completed_jobs, b.processing_jobs) == ("processing", 2, 1)
    assert store.unannounced_batches(now + timedelta(seconds=10 * LEASE)) == []


def test_a_move_landing_during_the_recount_wins(store, monkeypatch):
    batch = finished_batch_with_last_move_undone(store)
    later = utcnow() + timedelta(seconds=3 * LEASE)
    aggregate = store.jobs.aggregate

    def move_meanwhile(pipeline, *args, **kwargs):
        rows = list(aggregate(pipeline, *args, **kwargs))
        store.batches.update_one(  # a live worker's move lands between the read and the write
            {"batch_id": batch.batch_id},
            {"$inc": {"failed_jobs": 0}, "$set": {"updated_at": later}},
        )
        return rows

    monkeypatch.setattr(
        type(store.jobs), "aggregate", lambda self, *a, **k: move_meanwhile(*a, **k)
    )
    assert store.repair_batches(later - timedelta(seconds=2 * LEASE), later) == []
    b = store.get_batch(batch.batch_id)
    assert (b.status, b.completed_jobs, b.processing_jobs) == ("processing", 2, 1)
