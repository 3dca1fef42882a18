"""Real worker processes (``jobworker run``) sharing one MongoDB database: every job completed
exactly once, and a job whose worker is SIGKILLed mid-job finished by another worker.

Runs against the server ``MONGO_URI`` names; skipped without it.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker import connect
from jobworker.model import JobStatus
from procs import jobworker_process, records, wait_until

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]

SUPPORT = Path(__file__).parent / "support"


def jobworker(url: str, *args: str, cwd: Path) -> subprocess.Popen:
    return jobworker_process(url, *args, cwd=cwd)


@pytest.fixture
def url() -> str:
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwproc_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def client(url):
    import testjobs
    from jobworker.testing import make_plugins

    c = connect(url, plugins=make_plugins([testjobs]))
    yield c
    c.store.drop_database()
    c.close()


def test_three_worker_processes_complete_every_job_exactly_once(url, client, tmp_path):
    record = tmp_path / "record"
    batch = client.submit_batch(
        [
            {"job_type": "async", "parameters": {"record": str(record), "sleep": 0.02}}
            for _ in range(240)
        ]
    )
    workers = [
        jobworker(
            url, "run", "--burst", "--concurrency", "3", "--poll-interval", "0.2", cwd=tmp_path
        )
        for _ in range(3)
    ]
    for w in workers:
        assert w.wait(timeout=240) == 0
    runs = collections.Counter(job_id for job_id, _pid, _attempt in records(record))
    assert len(runs) == 240 and set(runs.values()) == {1}
    assert len({pid for _j, pid, _a in records(record)}) >= 2  # the work really was shared
    b = client.batch(batch.batch_id)
    assert (b.completed_jobs, b.failed_jobs, b.pending_jobs, b.processing_jobs, b.status) == (
        240,
        0,
        0,
        0,
        "completed",
    )
    assert client.store.count_by_status() == {
        "pending": 0,
        "processing": 0,
        "completed": 240,
        "failed": 0,
    }


def test_sigkilled_worker_job_is_finished_by_another(url, client, tmp_path):
    record = tmp_path / "record"
    job = client.submit("thread", {"sleep": 2.0, "record": str(record)}, max_attempts=3)
    victim = jobworker(url, "run", "--lease-seconds", "1", cwd=tmp_path)
    wait_until(lambda: records(record))
    assert client.get(job.job_id).lease_owner is not None
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    rescuer = jobworker(url, "run", "--lease-seconds", "1", "--poll-interval", "0.2", cwd=tmp_path)
    try:
        done = wait_until(lambda: (j := client.get(job.job_id)).status.terminal and j)
    finally:
        rescuer.terminate()
        rescuer.wait(timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2 and done.error is None
    assert [r[1] for r in records(record)] == [str(victim.pid), str(rescuer.pid)]
    raw = client.store.jobs.find_one({"job_id": job.job_id})
    assert raw["status"] == "completed" and "lease_owner" not in raw
