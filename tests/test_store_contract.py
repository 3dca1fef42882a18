"""The store contract, run unchanged against every backend (``store`` fixture in conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from jobworker import errors
from jobworker.model import (
    Batch,
    Job,
    JobError,
    JobParameters,
    JobProgress,
    JobStatus,
    LogEntry,
    LogLevel,
    normalise_results,
    utcnow,
)
from jobworker.store import Claim, Outcome, StoreError
from storefactory import BACKENDS


@pytest.fixture(params=[*BACKENDS, "sqlite-full"])
def backend(request) -> str:
    """Every backend, and SQLite with ``synchronous=FULL`` (group syncs) too."""
    return request.param


def job(job_type="echo", **kw) -> Job:
    params = kw.pop("params", {"text": "hi"})
    return Job(job_type, JobParameters.from_dict(params), **kw)


def claim(store, worker="w1", limit=10, lease=30, now=None, **kw):
    return store.claim(Claim(worker, lease, limit, **kw), now or utcnow())


def test_enqueue_and_get_round_trip(store):
    j = job(
        params={"filename": "a.pdf", "page_start": 2, "extra": {"extra": {"deep": 1}}},
        job_name="n",
        user_id="u1",
        priority=3,
        max_attempts=5,
        idempotency_key="k1",
    )
    store.enqueue([j])
    got = store.get_job(j.job_id)
    assert got is not None
    assert got.status is JobStatus.PENDING
    assert got.parameters.values["filename"] == "a.pdf"
    assert got.parameters.extra == {"page_start": 2, "deep": 1}
    assert (got.job_name, got.user_id, got.priority, got.max_attempts) == ("n", "u1", 3, 5)
    assert got.created_at == j.created_at
    assert store.get_job("job-missing") is None


def test_duplicate_job_id_is_refused(store):
    j = job()
    store.enqueue([j])
    with pytest.raises(StoreError):
        store.enqueue([Job("echo", job_id=j.job_id)])


def test_idempotency_key_returns_existing_job(store):
    [a] = store.enqueue([job(idempotency_key="same")])
    [b] = store.enqueue([job(idempotency_key="same")])
    assert b.job_id == a.job_id
    assert len(store.list_jobs()) == 1


def test_claim_is_oldest_first_within_priority(store):
    now = utcnow()
    jobs = [job(created_at=now - timedelta(seconds=10 - i)) for i in range(5)]
    urgent = job(priority=5, created_at=now)
    store.enqueue([*reversed(jobs), urgent])
    got = claim(store, limit=3)
    assert [j.job_id for j in got] == [urgent.job_id, jobs[0].job_id, jobs[1].job_id]
    assert all(j.status is JobStatus.PROCESSING and j.attempts == 1 for j in got)
    assert all(j.lease_owner == "w1" and j.lease_expires_at > now for j in got)


def test_claim_twice_never_returns_the_same_job(store):
    store.enqueue([job() for _ in range(6)])
    a = {j.job_id for j in claim(store, "a", limit=4)}
    b = {j.job_id for j in claim(store, "b", limit=4)}
    assert len(a) == 4 and len(b) == 2 and not a & b
    assert claim(store, "c") == []


def test_claim_honours_available_at_and_types(store):
    now = utcnow()
    later = job(available_at=now + timedelta(seconds=60))
    other = job("other")
    mine = job("echo")
    store.enqueue([later, other, mine])
    got = claim(store, types=["echo"])
    assert [j.job_id for j in got] == [mine.job_id]
    assert store.next_available_at(["echo"], now) is not None
    assert claim(store, types=["echo"], now=now + timedelta(seconds=61))[0].job_id == later.job_id


def test_next_available_at_reports_future_times_of_the_given_types_only(store):
    now = utcnow()
    soon, later = now + timedelta(seconds=10), now + timedelta(seconds=60)
    store.enqueue(
        [
            job("other", available_at=soon),
            job("echo", available_at=now - timedelta(seconds=5)),  # due: not reported
            job("echo", available_at=later),
            job("due", available_at=now - timedelta(seconds=1)),
        ]
    )

    def at(types):
        found = store.next_available_at(types, now)
        return None if found is None else round((found - now).total_seconds())

    assert at(["echo"]) == 60
    assert at(["other", "echo"]) == 10
    assert at(None) == 10
    assert at(["due"]) is None and at(["nothing"]) is None and at([]) is None
    assert store.next_available_at(None, later) is None


def test_claim_type_slots_and_cluster_limits(store):
    store.enqueue([job("a") for _ in range(5)] + [job("b") for _ in range(5)])
    got = claim(store, "w1", limit=10, type_slots={"a": 1})
    assert sum(j.job_type == "a" for j in got) == 1
    assert sum(j.job_type == "b" for j in got) == 5
    store2_got = claim(store, "w2", limit=10, cluster_limits={"a": 2})
    assert [j.job_type for j in store2_got] == ["a"]  # one more a: 2 processing in all


def test_legacy_empty_job_type_is_session(store):
    store.import_documents(
        [
            {
                "job_id": "job-legacy",
                "job_type": "",
                "status": "pending",
                "created_at": utcnow(),
                "updated_at": utcnow(),
                "parameters": {"event": "E", "session": "S"},
            }
        ]
    )
    got = claim(store, types=["session"])
    assert [j.job_id for j in got] == ["job-legacy"]
    assert got[0].job_type == "session"


def test_finish_completed_and_failed_move_batch_counters(store):
    batch = Batch(batch_name="b")
    jobs = store.enqueue([job() for _ in range(3)], batch)
    assert all(j.batch_id == batch.batch_id for j in jobs)
    b = store.get_batch(batch.batch_id)
    assert (b.total_jobs, b.pending_jobs, b.status) == (3, 3, "processing")
    c = claim(store, limit=2)
    b = store.get_batch(batch.batch_id)
    assert (b.pending_jobs, b.processing_jobs) == (1, 2)
    done = store.finish(
        [
            Outcome(c[0].job_id, "w1", "completed", results={"markdown_content": "x"}),
            Outcome(c[1].job_id, "w1", "failed", error=JobError("BOOM", "bad", None)),
        ],
        utcnow(),
    )
    assert [t.job.status for t in done] == [JobStatus.COMPLETED, JobStatus.FAILED]
    assert all(t.batch_finished is None for t in done)
    b = store.get_batch(batch.batch_id)
    assert (b.completed_jobs, b.failed_jobs, b.processing_jobs, b.pending_jobs) == (1, 1, 0, 1)
    got = store.get_job(c[0].job_id)
    assert got.results == {"markdown_content": "x"}
    assert got.progress == JobProgress("completed", 100, None)
    assert got.completed_at is not None and got.lease_owner is None
    assert store.get_job(c[1].job_id).error.code == "BOOM"
    [last] = claim(store)
    [t] = store.finish([Outcome(last.job_id, "w1", "completed")], utcnow())
    assert t.batch_finished is not None and t.batch_finished.batch_id == batch.batch_id
    b = store.get_batch(batch.batch_id)
    assert (b.status, b.completed_jobs, b.failed_jobs) == ("completed", 2, 1)


def test_finish_by_a_worker_that_lost_the_lease_is_ignored(store):
    store.enqueue([job()])
    [j] = claim(store, "w1")
    assert store.finish([Outcome(j.job_id, "other", "completed")], utcnow()) == []
    assert store.get_job(j.job_id).status is JobStatus.PROCESSING


def test_finish_of_many_alike_outcomes_in_one_call(store):
    """Outcomes that write the same values (no results) among others and a job held by another
    worker: each of this worker's applied, transitions in the outcomes' order."""
    batch = Batch(batch_name="b")
    store.enqueue([job() for _ in range(9)], batch)
    a, b, c, d, e, f, g, h = claim(store, "w1", limit=8)
    [other] = claim(store, "w2", limit=1)
    plain = JobProgress("processing", 0, None)
    empty = normalise_results(None)  # what a handler that returns nothing ends with
    done = store.finish(
        [
            Outcome(a.job_id, "w1", "completed", progress=plain),
            Outcome(b.job_id, "w1", "failed", error=JobError("BOOM", "bad", None)),
            Outcome(other.job_id, "w1", "completed", progress=plain),
            Outcome(c.job_id, "w1", "completed"),
            Outcome(d.job_id, "w1", "completed", progress=JobProgress("x", 5, "said")),
            Outcome(e.job_id, "w1", "completed", results={"markdown_content": "x"}),
            Outcome(f.job_id, "w1", "completed", results=empty),
            Outcome(g.job_id, "w1", "completed", results=normalise_results({"context": "g"})),
            Outcome(h.job_id, "w1", "completed", results=normalise_results(None)),
        ],
        utcnow(),
    )
    assert [(t.job.job_id, t.job.status) for t in done] == [
        (a.job_id, JobStatus.COMPLETED),
        (b.job_id, JobStatus.FAILED),
        (c.job_id, JobStatus.COMPLETED),
        (d.job_id, JobStatus.COMPLETED),
        (e.job_id, JobStatus.COMPLETED),
        (f.job_id, JobStatus.COMPLETED),
        (g.job_id, JobStatus.COMPLETED),
        (h.job_id, JobStatus.COMPLETED),
    ]
    assert store.get_job(a.job_id).progress == JobProgress("completed", 100, None)
    assert store.get_job(d.job_id).progress == JobProgress("completed", 100, "said")
    assert store.get_job(e.job_id).results == {"markdown_content": "x"}
    assert store.get_job(f.job_id).results == empty == store.get_job(h.job_id).results
    assert store.get_job(g.job_id).results == normalise_results({"context": "g"})
    assert store.get_job(other.job_id).status is JobStatus.PROCESSING
    got = store.get_batch(batch.batch_id)
    assert (got.completed_jobs, got.failed_jobs, got.processing_jobs) == (7, 1, 1)


def test_finish_naming_a_job_twice_applies_the_first_that_holds_it(store):
    store.enqueue([job(), job()])
    a, b = claim(store, "w1", limit=2)
    plain = JobProgress("processing", 0, None)
    done = store.finish(
        [
            Outcome(a.job_id, "w1", "completed", progress=plain),
            Outcome(b.job_id, "w2", "completed", progress=plain),
            Outcome(b.job_id, "w1", "failed", error=JobError("BOOM", "bad", None)),
            Outcome(a.job_id, "w1", "failed", error=JobError("LATE", "twice", None)),
            Outcome(b.job_id, "w1", "completed", progress=plain),
        ],
        utcnow(),
    )
    assert [(t.job.job_id, t.job.status) for t in done] == [
        (a.job_id, JobStatus.COMPLETED),
        (b.job_id, JobStatus.FAILED),
    ]
    assert store.get_job(a.job_id).error is None
    assert store.get_job(b.job_id).error.code == "BOOM"


def test_retry_and_release_outcomes(store):
    store.enqueue([job(max_attempts=3)])
    [j] = claim(store)
    later = utcnow() + timedelta(seconds=30)
    err = JobError(errors.HANDLER_ERROR, "flaky", None)
    [t] = store.finish([Outcome(j.job_id, "w1", "retry", error=err, available_at=later)], utcnow())
    assert t.job.status is JobStatus.PENDING and t.job.error.message == "flaky"
    assert claim(store) == []
    [j] = claim(store, now=later + timedelta(seconds=1))
    assert j.attempts == 2
    store.finish([Outcome(j.job_id, "w1", "release")], utcnow())
    got = store.get_job(j.job_id)
    assert got.status is JobStatus.PENDING and got.attempts == 1


def test_heartbeat_extends_lease_and_reports_cancel_and_loss(store):
    store.enqueue([job(), job()])
    a, b = claim(store)
    now = utcnow()
    assert store.heartbeat("w1", [a.job_id], 60, now) == (set(), set())
    assert store.get_job(a.job_id).lease_expires_at >= now + timedelta(seconds=59)
    store.cancel(a.job_id, now)
    cancelled, lost = store.heartbeat("w1", [a.job_id, b.job_id, "job-gone"], 60, now)
    assert cancelled == {a.job_id} and lost == {"job-gone"}


def test_recover_expired_retries_then_fails_with_worker_lost(store):
    store.enqueue([job(max_attempts=2)])
    [j] = claim(store, lease=1)
    later = utcnow() + timedelta(seconds=5)
    [t] = store.recover_expired(later, backoff=0)
    assert t.job.status is JobStatus.PENDING and t.job.error.code == errors.WORKER_LOST
    [j] = claim(store, "w2", lease=1, now=later)
    assert j.attempts == 2
    [t] = store.recover_expired(later + timedelta(seconds=5), backoff=0)
    assert t.job.status is JobStatus.FAILED and t.job.error.code == errors.WORKER_LOST
    assert store.finish([Outcome(j.job_id, "w2", "completed")], utcnow()) == []


def test_cancel_pending_fails_at_once_and_counts_in_batch(store):
    batch = Batch()
    [a, b] = store.enqueue([job(), job()], batch)
    t = store.cancel(a.job_id, utcnow())
    assert t.job.status is JobStatus.FAILED and t.job.error.code == errors.CANCELLED
    assert store.get_batch(batch.batch_id).failed_jobs == 1
    assert store.cancel(a.job_id, utcnow()) is None
    assert claim(store)[0].job_id == b.job_id


def test_retry_failed_job_reopens_batch(store):
    batch = Batch()
    [a] = store.enqueue([job()], batch)
    [j] = claim(store)
    [t] = store.finish(
        [Outcome(j.job_id, "w1", "failed", error=JobError("X", "x", None))], utcnow()
    )
    assert t.batch_finished is not None
    again = store.retry(a.job_id, utcnow())
    assert again.status is JobStatus.PENDING and again.error is None
    # attempts keep counting; the retry grants a fresh budget on top (default 3)
    assert (again.attempts, again.max_attempts) == (1, 4)
    [j] = claim(store)
    assert (j.attempts, j.max_attempts) == (2, 4)
    store.finish([Outcome(j.job_id, "w1", "failed", error=JobError("X", "x", None))], utcnow())
    assert (store.retry(a.job_id, utcnow(), budget=1).max_attempts) == 3
    [j] = claim(store)
    assert j.attempts == 3
    store.finish([Outcome(j.job_id, "w1", "failed", error=JobError("X", "x", None))], utcnow())
    assert store.get_job(a.job_id).status is JobStatus.FAILED
    store.retry(a.job_id, utcnow())
    b = store.get_batch(batch.batch_id)
    assert (b.status, b.failed_jobs, b.pending_jobs) == ("processing", 0, 1)
    assert store.retry(a.job_id, utcnow()) is None


def test_progress_and_capped_logs(store_factory):
    store = store_factory(log_cap=5)
    store.enqueue([job()])
    [j] = claim(store)
    store.save_progress("w1", {j.job_id: JobProgress("step", 40, "m")}, utcnow())
    store.save_progress("other", {j.job_id: JobProgress("x", 90, None)}, utcnow())
    store.append_logs(
        [(j.job_id, LogEntry(utcnow(), LogLevel.INFO, f"line {i}")) for i in range(8)]
    )
    got = store.get_job(j.job_id)
    assert got.progress == JobProgress("step", 40, "m")
    assert [e.message for e in got.logs] == [f"line {i}" for i in range(3, 8)]


def test_list_count_and_purge(store):
    store.enqueue([job("a"), job("b"), job("a")])
    assert len(store.list_jobs(job_type="a")) == 2
    [j] = claim(store, limit=1)
    store.finish([Outcome(j.job_id, "w1", "completed")], utcnow())
    assert store.count_by_status() == {"pending": 2, "processing": 0, "completed": 1, "failed": 0}
    assert len(store.list_jobs(status=JobStatus.COMPLETED)) == 1
    purged = store.purge(before=utcnow() + timedelta(seconds=1), statuses=[JobStatus.COMPLETED])
    assert purged.job_ids == [j.job_id] and purged.batch_ids == []
    assert store.get_job(j.job_id) is None
    assert len(store.list_jobs()) == 2


def test_purge_takes_emptied_batches_and_has_a_dry_run(store):
    done, mixed = Batch(), Batch()
    store.enqueue([job(), job()], done)
    store.enqueue([job(), job()], mixed)
    claimed = claim(store, limit=3)
    store.finish([Outcome(j.job_id, "w1", "completed") for j in claimed], utcnow())
    before, finished = utcnow() + timedelta(seconds=1), [JobStatus.COMPLETED]
    plan = store.purge(before=before, statuses=finished, dry_run=True)
    assert sorted(plan.job_ids) == sorted(j.job_id for j in claimed)
    assert plan.batch_ids == [done.batch_id]  # `mixed` keeps a job that is still running
    assert len(store.list_jobs()) == 4 and store.get_batch(done.batch_id) is not None
    purged = store.purge(before=before, statuses=finished)
    assert (sorted(purged.job_ids), purged.batch_ids) == (sorted(plan.job_ids), plan.batch_ids)
    assert store.get_batch(done.batch_id) is None
    assert store.get_batch(mixed.batch_id).total_jobs == 2
    assert len(store.list_jobs()) == 1


def test_cancel_and_lost_leases_keep_the_last_percent(store):
    """Progress never goes backwards within an attempt: a cancelled or lost attempt keeps its
    percent, whether or not the outcome carries it."""
    store.enqueue([job(max_attempts=1), job(max_attempts=1)])
    a, b = claim(store, lease=1)
    now = utcnow()
    store.save_progress("w1", {a.job_id: JobProgress("ocr", 46, None)}, now)
    store.save_progress("w1", {b.job_id: JobProgress("ocr", 71, None)}, now)
    cancelled = JobError(errors.CANCELLED, "cancelled while running", None)
    [t] = store.finish([Outcome(a.job_id, "w1", "failed", error=cancelled)], now)
    assert t.job.progress == JobProgress("error", 46, "cancelled while running")
    [t] = store.recover_expired(now + timedelta(seconds=5), backoff=0)
    assert t.job.error.code == errors.WORKER_LOST and t.job.progress.percent == 71


def test_listing_filters_owner_created_range_and_keyset_cursor(store):
    t0 = utcnow() - timedelta(minutes=10)
    mine = [job("a", created_at=t0 + timedelta(seconds=i)) for i in range(5)]
    for j in mine:
        j.unknown["owner_key"] = "k1"
    theirs = job("a", created_at=t0 + timedelta(seconds=2))  # same instant as mine[2]
    theirs.unknown["owner_key"] = "k2"
    store.enqueue([*mine, theirs, job("b", created_at=t0)])
    assert [j.job_id for j in store.list_jobs(owner="k1")] == [j.job_id for j in mine[::-1]]
    pages, after = [], None
    while page := store.list_jobs(limit=2, after=after):
        pages += [j.job_id for j in page]
        after = (page[-1].created_at, page[-1].job_id)
    assert len(pages) == len(set(pages)) == 7  # every job once, ties broken by id
    span = store.list_jobs(
        created_from=t0 + timedelta(seconds=1), created_to=t0 + timedelta(seconds=3)
    )
    assert {j.job_id for j in span} == {mine[1].job_id, mine[2].job_id, theirs.job_id}
    assert store.count_by_status(job_type="b") == {
        "pending": 1,
        "processing": 0,
        "completed": 0,
        "failed": 0,
    }
    b1, b2 = Batch(created_at=t0), Batch(created_at=t0 + timedelta(seconds=1))
    b1.unknown["owner_key"] = "k1"
    store.enqueue([job()], b1)
    store.enqueue([job()], b2)
    assert [b.batch_id for b in store.list_batches(owner="k1")] == [b1.batch_id]
    assert [b.batch_id for b in store.list_batches(after=(b2.created_at, b2.batch_id))] == [
        b1.batch_id
    ]
    assert store.list_batches(status="completed") == []


def test_enqueue_into_existing_batch_grows_it(store):
    batch = Batch()
    store.enqueue([job()], batch)
    [j] = claim(store)
    store.finish([Outcome(j.job_id, "w1", "completed")], utcnow())
    assert store.get_batch(batch.batch_id).status == "completed"
    store.enqueue([job(), job()], Batch(batch_id=batch.batch_id))
    b = store.get_batch(batch.batch_id)
    assert (b.total_jobs, b.pending_jobs, b.completed_jobs, b.status) == (3, 2, 1, "processing")


def test_terminal_transitions_stay_unannounced_until_marked(store):
    store.enqueue([job(), job(), job(max_attempts=1)])
    x, y, z = claim(store, lease=1)
    now = utcnow()
    store.finish(
        [Outcome(x.job_id, "w1", "completed"), Outcome(y.job_id, "w1", "retry", available_at=now)],
        now,
    )
    later = utcnow() + timedelta(seconds=10)
    store.recover_expired(later, backoff=0)  # z: lease expired, attempts used up -> failed
    soon = later + timedelta(seconds=1)
    assert {t.job_id for t in store.unannounced(soon)} == {x.job_id, z.job_id}
    assert store.unannounced(now - timedelta(seconds=1)) == []  # too recent
    store.mark_announced([x.job_id])
    [t] = store.unannounced(soon)
    assert t.job.job_id == z.job_id and t.job.status is JobStatus.FAILED
    store.retry(z.job_id, later)  # pending again: nothing to announce
    assert store.unannounced(soon) == []
    [pending] = store.enqueue([job()])
    store.cancel(pending.job_id, later)  # a cancelled pending job is a terminal transition
    assert [t.job_id for t in store.unannounced(soon + timedelta(seconds=1))] == [pending.job_id]


def test_a_finished_batch_stays_unannounced_until_marked(store):
    batch = Batch()
    store.enqueue([job()], batch)
    [j] = claim(store)
    store.finish([Outcome(j.job_id, "w1", "completed")], utcnow())
    soon = utcnow() + timedelta(seconds=1)
    assert [b.batch_id for b in store.unannounced_batches(soon)] == [batch.batch_id]
    store.mark_announced([j.job_id], [batch.batch_id])
    assert store.unannounced_batches(soon) == [] and store.unannounced(soon) == []


def test_repairing_batches_leaves_right_counters_and_finished_batches_alone(store):
    open_batch, done_batch = Batch(), Batch()
    store.enqueue([job(), job()], open_batch)
    store.enqueue([job()], done_batch)
    [a, b, c] = claim(store)
    by_batch = {j.job_id: j.batch_id for j in (a, b, c)}
    finished = next(j for j in (a, b, c) if by_batch[j.job_id] == done_batch.batch_id)
    store.finish([Outcome(finished.job_id, "w1", "completed")], utcnow())
    later = utcnow() + timedelta(seconds=60)
    assert store.repair_batches(later - timedelta(seconds=2), later) == []
    x = store.get_batch(open_batch.batch_id)
    assert (x.status, x.pending_jobs, x.processing_jobs, x.completed_jobs) == (
        "processing",
        0,
        2,
        0,
    )
    y = store.get_batch(done_batch.batch_id)
    assert (y.status, y.pending_jobs, y.processing_jobs, y.completed_jobs) == ("completed", 0, 0, 1)
