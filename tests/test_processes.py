"""Real worker processes (``jobworker run``) on one SQLite file: exactly-once completion, a worker
SIGKILLed mid-job, graceful SIGTERM, the supervisor, a runaway handler killed by its timeout and
a running job cancelled from another process."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from jobworker import connect
from jobworker.model import JobStatus
from procs import jobworker_process, records, wait_until

SUPPORT = Path(__file__).parent / "support"


def jobworker(db: Path, *args: str, **kw) -> subprocess.Popen:
    return jobworker_process(f"sqlite:///{db}", *args, cwd=db.parent, **kw)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def client(db):
    import testjobs
    from jobworker.testing import make_plugins

    with connect(f"sqlite:///{db}", plugins=make_plugins([testjobs])) as c:
        yield c


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_three_workers_complete_a_thousand_jobs_exactly_once(db, client, tmp_path, synchronous):
    record = tmp_path / "record"
    batch = client.submit_batch(
        [{"job_type": "async", "parameters": {"record": str(record)}} for _ in range(1000)]
    )
    url = f"sqlite:///{db}?synchronous={synchronous}"
    workers = [
        jobworker_process(url, "run", "--burst", "--concurrency", "4", cwd=db.parent)
        for _ in range(3)
    ]
    for w in workers:
        assert w.wait(timeout=240) == 0
    runs = collections.Counter(job_id for job_id, _pid, _attempt in records(record))
    assert len(runs) == 1000 and set(runs.values()) == {1}
    pids = {pid for _j, pid, _a in records(record)}
    assert len(pids) >= 2  # the work really was shared
    b = client.batch(batch.batch_id)
    assert (b.completed_jobs, b.failed_jobs, b.pending_jobs, b.processing_jobs, b.status) == (
        1000,
        0,
        0,
        0,
        "completed",
    )
    assert client.store.count_by_status()["completed"] == 1000


def test_sigkilled_worker_job_is_completed_by_another_after_lease_expiry(db, client, tmp_path):
    record = tmp_path / "record"
    job = client.submit("thread", {"sleep": 2.0, "record": str(record)}, max_attempts=3)
    victim = jobworker(db, "run", "--lease-seconds", "1")
    wait_until(lambda: records(record))
    assert client.get(job.job_id).lease_owner is not None
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    rescuer = jobworker(db, "run", "--lease-seconds", "1")
    try:
        done = wait_until(lambda: (j := client.get(job.job_id)).status.terminal and j, 60)
    finally:
        rescuer.terminate()
        rescuer.wait(timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2
    assert [r[1] for r in records(record)] == [str(victim.pid), str(rescuer.pid)]
    assert any("WORKER_LOST" in e.message or "attempt 2" in e.message for e in done.logs)


def test_sigterm_lets_running_jobs_finish(db, client, tmp_path):
    record = tmp_path / "record"
    job = client.submit("async", {"sleep": 1.0, "steps": 5, "record": str(record)})
    worker = jobworker(db, "run", "--shutdown-grace", "30")
    wait_until(lambda: records(record))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert client.get(job.job_id).status is JobStatus.COMPLETED


def test_second_sigterm_hands_back_without_charging(db, client, tmp_path):
    record = tmp_path / "record"
    job = client.submit("async", {"sleep": 60, "steps": 60, "record": str(record)})
    worker = jobworker(db, "run", "--shutdown-grace", "60")
    wait_until(lambda: records(record))
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    got = client.get(job.job_id)
    assert got.status is JobStatus.PENDING and got.attempts == 0 and got.lease_owner is None


def test_runaway_cpu_handler_is_killed_by_its_timeout(db, client, tmp_path):
    record = tmp_path / "record"
    # The timeout counts from the attempt's start, child start-up included: 10 s leaves room for a
    # spawned child to import and record its pid on a loaded machine, and still kills it.
    job = client.submit("cpu", {"sleep": 600, "record": str(record)}, timeout=10.0, max_attempts=1)
    worker = jobworker(db, "run", "--burst")
    assert worker.wait(timeout=120) == 0
    done = client.get(job.job_id)
    assert (done.status, done.error.code) == (JobStatus.FAILED, "TIMEOUT")
    child_pid = int(records(record)[0][1])
    assert child_pid != worker.pid
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)  # the busy child process is gone


def test_cancel_from_the_cli_stops_a_running_cpu_job(db, client, tmp_path):
    record = tmp_path / "record"
    job = client.submit("cpu", {"sleep": 600, "record": str(record)})
    worker = jobworker(db, "run", "--shutdown-grace", "1")
    try:
        wait_until(lambda: records(record))
        cancel = jobworker(db, "cancel", job.job_id)
        assert cancel.wait(timeout=60) == 0
        done = wait_until(lambda: (j := client.get(job.job_id)).status.terminal and j, 30)
        assert done.error.code == "CANCELLED"
        child_pid = int(records(record)[0][1])
        wait_until(lambda: not _alive(child_pid), 10)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_supervisor_runs_n_processes(db, client, tmp_path):
    record = tmp_path / "record"
    client.submit_batch(
        [
            {"job_type": "async", "parameters": {"record": str(record), "sleep": 0.05}}
            for _ in range(200)
        ]
    )
    sup = jobworker(db, "run", "--processes", "2", "--burst")
    assert sup.wait(timeout=120) == 0
    assert len(records(record)) == 200
    assert len({pid for _j, pid, _a in records(record)}) == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
