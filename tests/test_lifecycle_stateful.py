"""A hypothesis state machine over the store's lifecycle operations, checked against a model.

Invariants after every step: a job is never held by two workers, every processing job is held by
exactly the worker that claimed it, batch counters equal the jobs' real states, only the four
statuses are stored, and progress stays within 0..100.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from jobworker.model import Batch, Job, JobError, JobParameters, JobProgress, JobStatus, utcnow
from jobworker.store import Claim, Outcome
from storefactory import make_store

WORKERS = ("w1", "w2", "w3")
LEASE = 10


class Lifecycle(RuleBasedStateMachine):
    backend = "sqlite"

    @initialize()
    def setup(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.store = make_store(self.backend, Path(self.tmp.name))
        self.now = utcnow()
        self.held: dict[str, str] = {}  # job id -> worker (the model)
        self.batches: list[str] = []
        self.jobs: list[str] = []

    def teardown(self):
        if hasattr(self, "store"):
            getattr(self.store, "drop_database", lambda: None)()
            self.store.close()
            self.tmp.cleanup()

    @rule(n=st.integers(1, 4), in_batch=st.booleans(), max_attempts=st.integers(1, 3))
    def submit(self, n, in_batch, max_attempts):
        # Ids in creation order, so that replaying an example picks the same jobs.
        jobs = [
            Job(
                "t",
                JobParameters(),
                created_at=self.now,
                max_attempts=max_attempts,
                job_id=f"job-{len(self.jobs) + i:05d}",
            )
            for i in range(n)
        ]
        batch = Batch(batch_id=f"batch-{len(self.batches):05d}") if in_batch else None
        self.store.enqueue(jobs, batch)
        self.jobs += [j.job_id for j in jobs]
        if batch:
            self.batches.append(batch.batch_id)

    @rule(worker=st.sampled_from(WORKERS), limit=st.integers(1, 3))
    def claim(self, worker, limit):
        got = self.store.claim(Claim(worker, LEASE, limit), self.now)
        for job in got:
            assert job.job_id not in self.held, "claimed a job somebody holds"
            assert job.lease_owner == worker
            self.held[job.job_id] = worker

    @precondition(lambda self: self.held)
    @rule(data=st.data(), kind=st.sampled_from(["completed", "failed", "retry", "release"]))
    def finish(self, data, kind):
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        # Sometimes the wrong worker tries: it must be ignored.
        worker = data.draw(st.sampled_from(WORKERS))
        error = None if kind in ("completed", "release") else JobError("E", "e", None)
        done = self.store.finish(
            [Outcome(job_id, worker, kind, error=error, available_at=self.now)], self.now
        )
        if worker == self.held[job_id]:
            assert len(done) == 1
            del self.held[job_id]
        else:
            assert done == []

    @precondition(lambda self: self.held)
    @rule(data=st.data(), percent=st.integers(-50, 150))
    def progress(self, data, percent):
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        self.store.save_progress(self.held[job_id], {job_id: JobProgress("s", percent)}, self.now)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data):
        job_id = data.draw(st.sampled_from(self.jobs))
        t = self.store.cancel(job_id, self.now)
        if t is not None and t.job.status is JobStatus.FAILED:
            assert job_id not in self.held

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def retry(self, data):
        job_id = data.draw(st.sampled_from(self.jobs))
        self.store.retry(job_id, self.now)

    @rule(seconds=st.sampled_from([1, LEASE + 1]))
    def advance_clock_and_recover(self, seconds):
        self.now += timedelta(seconds=seconds)
        for t in self.store.recover_expired(self.now, backoff=0):
            assert self.held.pop(t.job.job_id, None) is not None

    @rule()
    def heartbeat_all(self):
        for worker in WORKERS:
            mine = [j for j, w in self.held.items() if w == worker]
            _cancel, lost = self.store.heartbeat(worker, mine, LEASE, self.now)
            assert lost == set()

    @invariant()
    def states_match_the_model(self):
        if not hasattr(self, "store"):
            return
        jobs = self.store.list_jobs(limit=10_000)
        processing = {j.job_id: j.lease_owner for j in jobs if j.status is JobStatus.PROCESSING}
        assert processing == self.held
        for j in jobs:
            assert j.status in set(JobStatus)
            if j.progress is not None:
                assert 0 <= j.progress.percent <= 100
        for batch_id in self.batches:
            b = self.store.get_batch(batch_id)
            counts = self.store.count_by_status(batch_id=batch_id)
            assert (b.pending_jobs, b.processing_jobs, b.completed_jobs, b.failed_jobs) == (
                counts["pending"],
                counts["processing"],
                counts["completed"],
                counts["failed"],
            )
            assert (b.status == "completed") == (b.completed_jobs + b.failed_jobs == b.total_jobs)

    @invariant()
    def only_legacy_statuses_in_raw_storage(self):
        if self.backend == "sqlite" and hasattr(self, "store"):
            raw = {r[0] for r in self.store._query("SELECT DISTINCT status FROM jobs")}
            assert raw <= {"pending", "processing", "completed", "failed"}


TestSQLiteLifecycle = Lifecycle.TestCase
TestSQLiteLifecycle.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)

if os.environ.get("MONGO_URI"):

    class MongoLifecycle(Lifecycle):
        backend = "mongo"

    TestMongoLifecycle = MongoLifecycle.TestCase
    TestMongoLifecycle.settings = settings(max_examples=15, stateful_step_count=25, deadline=None)
