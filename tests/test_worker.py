"""The worker in-process: outcomes, retries, timeouts and cancellation on every executor,
per-type limits, unknown types, bad parameters, lifecycle hooks."""

from __future__ import annotations

import time

import pytest
import testjobs
from background import Background
from jobworker import errors, hookimpl
from jobworker.model import Job, JobStatus
from jobworker.testing import WorkerHarness, run_handler
from procs import wait_until


@pytest.fixture
def harness(tmp_path):
    with WorkerHarness(tmp_path, plugins=[testjobs], lease_seconds=3) as h:
        yield h


def wait_status(client, job_id, status, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_id)
        if job.status is status:
            return job
        time.sleep(0.02)
    raise AssertionError(f"{job_id} is {client.get(job_id).status}, not {status}")


@pytest.mark.parametrize("job_type", ["async", "thread", "cpu"])
def test_each_executor_completes_with_progress_and_logs(tmp_path, job_type):
    run = run_handler(
        job_type, {"n": 7, "steps": 3, "sleep": 0.05}, plugins=[testjobs], tmp_path=tmp_path
    )
    assert run.status is JobStatus.COMPLETED, run.error
    assert run.results["structured_data"]["n"] == 7
    assert set(run.results) >= {"markdown_file", "page_texts", "structured_data"}
    percents = [p.percent for p in run.progress]
    assert percents == sorted(percents) and len(percents) >= 2
    assert run.logs[0] == ("info", "attempt 1 of 1 started on " + run.logs[0][1].split()[-1])


def test_retryable_error_is_retried_then_fails_with_traceback(harness):
    job = harness.client.submit("async", {"fail": "retryable"}, max_attempts=3)
    harness.run_burst()
    done = harness.client.get(job.job_id)
    assert done.status is JobStatus.FAILED and done.attempts == 3
    assert done.error.code == errors.HANDLER_ERROR
    assert "RuntimeError: flaky failure" in done.error.message
    assert "Traceback" in done.error.details["traceback"]
    assert sum("HANDLER_ERROR" in e.message for e in done.logs) == 3


def test_job_failure_is_final_and_keeps_its_code(harness):
    job = harness.client.submit("thread", {"fail": "final"}, max_attempts=5)
    harness.run_burst()
    done = harness.client.get(job.job_id)
    assert (done.status, done.attempts, done.error.code) == (JobStatus.FAILED, 1, "TEST_REFUSED")
    assert done.progress.step == "error"


def test_unknown_type_fails_listing_installed_types(harness):
    # No worker ever served "nope": the burst worker's sweep fails it without an attempt.
    job = harness.client.submit("nope", {}, allow_unknown_type=True)
    harness.run_burst()
    done = harness.client.get(job.job_id)
    assert done.error.code == errors.UNKNOWN_JOB_TYPE and done.attempts == 0
    assert "no worker has served it" in done.error.message
    assert "live workers serve: async, cpu, echo, noop, thread" in done.error.message


def test_burst_worker_with_types_leaves_other_installed_types_pending(harness):
    # `run --burst --types async` drains async jobs; noop is installed here, so its jobs wait
    # for a worker that claims them instead of failing as unknown.
    a = harness.client.submit("async", {})
    n = harness.client.submit("noop", {})
    worker = harness.run_burst(types=["async"])
    assert harness.client.get(a.job_id).status is JobStatus.COMPLETED
    assert harness.client.get(n.job_id).status is JobStatus.PENDING
    [record] = harness.client.workers(include_gone=True)
    assert record.worker_id == worker.worker_id and record.stopped_at is not None
    assert set(record.types) == {"async"} and "noop" in record.installed
    assert record.processed == 1 and record.failed == 0


def test_submit_refuses_unknown_type_and_bad_parameters(harness):
    with pytest.raises(errors.UnknownJobType):
        harness.client.submit("nope", {})
    with pytest.raises(errors.InvalidParameters, match="n"):
        harness.client.submit("async", {"n": -1})
    with pytest.raises(errors.InvalidParameters, match="unknown parameter"):
        harness.client.submit("async", {"sleeep": 1})
    assert harness.client.list() == []


def test_bad_parameters_in_a_stored_document_fail_without_retry(harness):
    harness.store.import_documents(
        [
            {
                "job_id": "job-bad",
                "job_type": "async",
                "status": "pending",
                "parameters": {"n": "many"},
            }
        ]
    )
    harness.run_burst()
    done = harness.client.get("job-bad")
    assert (done.status, done.error.code, done.attempts) == (
        JobStatus.FAILED,
        errors.INVALID_PARAMETERS,
        1,
    )


@pytest.mark.parametrize("job_type", ["async", "thread", "cpu"])
def test_timeout_stops_the_attempt(harness, job_type):
    job = harness.client.submit(job_type, {"sleep": 30}, timeout=0.5, max_attempts=1)
    started = time.monotonic()
    harness.run_burst()
    assert time.monotonic() - started < 20
    done = harness.client.get(job.job_id)
    assert (done.status, done.error.code) == (JobStatus.FAILED, errors.TIMEOUT)


@pytest.mark.parametrize("job_type", ["async", "thread", "cpu"])
def test_cancel_a_running_job(harness, job_type):
    job = harness.client.submit(job_type, {"sleep": 30, "steps": 30})
    bg = Background(harness)
    try:
        wait_status(harness.client, job.job_id, JobStatus.PROCESSING)
        time.sleep(0.3)
        assert harness.client.cancel(job.job_id).cancel_requested
        done = wait_status(harness.client, job.job_id, JobStatus.FAILED, timeout=10)
        assert done.error.code == errors.CANCELLED and done.attempts == 1
    finally:
        bg.stop(immediate=True)


def test_cancel_a_pending_job(harness):
    job = harness.client.submit("async", {}, delay=60)
    assert harness.client.cancel(job.job_id).status is JobStatus.FAILED
    assert harness.client.cancel(job.job_id) is None


def test_per_type_concurrency_limit(tmp_path):
    """Each job waits until the test releases it: what runs at once is counted while nothing
    can finish, so the count does not depend on how fast the machine is."""
    gate = tmp_path / "gate"
    gate.mkdir()
    with WorkerHarness(
        tmp_path, plugins=[testjobs], concurrency=8, max_concurrent_per_type={"async": 2}
    ) as h:
        jobs = [h.client.submit("async", {"gate": str(gate)}) for _ in range(6)]
        bg = Background(h)
        held: list[int] = []
        released: set[str] = set()
        try:
            while len(released) < 6:

                def settled() -> list[Job] | None:
                    running = h.client.list(status="processing")
                    if {j.job_id for j in running} & released or len(running) < 2:
                        return None  # the last release is not written yet, or not claimed again
                    return running

                running = wait_until(settled, 30)
                held.append(len(running))
                for job in running:
                    (gate / job.job_id).touch()
                    released.add(job.job_id)
        finally:
            for job in jobs:
                (gate / job.job_id).touch()
            bg.stop()
        assert held == [2, 2, 2]
        assert all(h.client.get(j.job_id).status is JobStatus.COMPLETED for j in jobs)


def test_graceful_stop_hands_back_unfinished_jobs_without_charging(harness):
    job = harness.client.submit("async", {"sleep": 30, "steps": 30})
    harness.settings.shutdown_grace = 0.2
    bg = Background(harness)
    wait_status(harness.client, job.job_id, JobStatus.PROCESSING)
    bg.stop()
    done = harness.client.get(job.job_id)
    assert done.status is JobStatus.PENDING and done.attempts == 0 and done.error is None


def test_lifecycle_hooks_fire_once_per_transition(tmp_path):
    seen = []

    class Observer:
        @hookimpl
        def job_submitted(self, job):
            seen.append(("submitted", job.job_id))

        @hookimpl
        def job_started(self, job):
            seen.append(("started", job.job_id))

        @hookimpl
        def job_finished(self, job, store):
            assert store.get_job(job.job_id).status is job.status  # committed already
            seen.append(("finished", job.job_id))

        @hookimpl
        def batch_finished(self, batch):
            seen.append(("batch", batch.batch_id))

    with WorkerHarness(tmp_path, plugins=[testjobs, Observer()]) as h:
        batch = h.client.submit_batch([{"job_type": "noop"}, {"job_type": "async"}])
        h.run_burst()
    ids = [j for kind, j in seen if kind == "submitted"]
    assert len(ids) == 2
    for job_id in ids:
        assert [k for k, j in seen if j == job_id] == ["submitted", "started", "finished"]
    assert seen[-1] == ("batch", batch.batch_id)
    assert batch.total_jobs == 2


def test_batch_counters_after_mixed_outcomes(harness):
    batch = harness.client.submit_batch(
        [
            {"job_type": "async"},
            {"job_type": "thread", "parameters": {"fail": "final"}},
            {"job_type": "noop"},
        ],
        batch_name="mixed",
    )
    harness.run_burst()
    b = harness.client.batch(batch.batch_id)
    assert (b.status, b.completed_jobs, b.failed_jobs, b.pending_jobs, b.processing_jobs) == (
        "completed",
        2,
        1,
        0,
        0,
    )
    assert b.batch_name == "mixed"


def test_idle_worker_picks_up_a_new_job_promptly(harness):
    bg = Background(harness)
    try:
        time.sleep(0.3)
        job = harness.client.submit("noop", {})
        # Woken by the store's notification, not by the 1 s poll (generous bound: loaded CI).
        done = harness.client.wait(job.job_id, timeout=10)
        assert done.status is JobStatus.COMPLETED
    finally:
        bg.stop()


def test_a_failing_store_round_trip_loses_nothing_and_the_worker_carries_on(harness):
    job = harness.client.submit("async", {"n": 5})
    real = harness.store.exchange
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] in (2, 3):  # the round trips after the claim: the outcome's write
            raise OSError("disk I/O error")
        return real(*args, **kwargs)

    harness.store.exchange = flaky
    harness.run_burst()
    done = harness.client.get(job.job_id)
    assert done.status is JobStatus.COMPLETED and done.results["structured_data"]["n"] == 5
    assert calls["n"] >= 4


def test_a_transition_whose_worker_died_before_its_hooks_is_announced_again(tmp_path):
    from jobworker.model import utcnow
    from jobworker.store import Claim, Outcome

    seen = []

    class Observer:
        @hookimpl
        def job_finished(self, job):
            seen.append(job.job_id)

        @hookimpl
        def batch_finished(self, batch):
            seen.append(batch.batch_id)

    with WorkerHarness(tmp_path, plugins=[testjobs, Observer()], lease_seconds=0.5) as h:
        batch = h.client.submit_batch([{"job_type": "noop"}])
        [job] = h.client.list(batch_id=batch.batch_id)
        # A "worker" commits the outcome and dies before running the hooks.
        [claimed] = h.store.claim(Claim("ghost", 30, 1), utcnow())
        h.store.finish([Outcome(claimed.job_id, "ghost", "completed")], utcnow())
        time.sleep(1.2)  # older than two leases
        h.run_burst()
        assert seen == [job.job_id, batch.batch_id]
        assert h.store.unannounced(utcnow()) == []  # and marked: announced once
        assert h.store.unannounced_batches(utcnow()) == []
        h.run_burst()
        assert seen == [job.job_id, batch.batch_id]
