"""Chaos soak (not in CI; ``pytest -m soak``, a few minutes): workers SIGKILLed and restarted
at random while a batch drains, on SQLite (10,000 jobs) and, when ``MONGO_URI`` names a server,
on MongoDB (fewer jobs: the wire-compatible test server is slow). Delivery is at least once, so
the checks are that nothing is lost, nothing is left behind, counters are right (on MongoDB a
kill between a job's write and its counter move is repaired by the recovery sweep), and a job
ran more than once only when its worker died (its attempts say so)."""

from __future__ import annotations

import collections
import random
import signal
import time

import pytest
from jobworker import connect
from jobworker.model import JobStatus
from jobworker.testing import make_plugins
from procs import jobworker_process, records, wait_until
from storefactory import BACKENDS, make_store

pytestmark = pytest.mark.soak

#: jobs per backend, and the pause between kills (s): the MongoDB test server (Python, in
#: memory) is far slower than SQLite, and a worker on it needs about a second to start claiming
JOBS = {"sqlite": 10_000, "sqlite-full": 10_000, "mongo": 300}
PAUSE = {"sqlite": (0.3, 1.2), "sqlite-full": (0.3, 1.2), "mongo": (0.5, 1.5)}


@pytest.mark.parametrize("backend", [*BACKENDS, "sqlite-full"])
def test_random_sigkills_lose_nothing(tmp_path, backend):
    """``sqlite-full``: the workers run with ``synchronous=FULL`` (group syncs)."""
    import testjobs

    store = make_store(backend, tmp_path)
    url = store.url + ("?synchronous=FULL" if backend == "sqlite-full" else "")
    store.close()
    n = JOBS[backend]
    record = tmp_path / "record"
    client = connect(url, plugins=make_plugins([testjobs]))
    batch = client.submit_batch(
        [
            {
                "job_type": "thread",
                "parameters": {"record": str(record), "sleep": 0.02},
                "max_attempts": 10,
            }
            for _ in range(n)
        ]
    )

    def start():
        return jobworker_process(url, "run", "--lease-seconds", "1", cwd=tmp_path)

    workers = [start() for _ in range(3)]
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 300
    while client.batch(batch.batch_id).status != "completed" and time.monotonic() < deadline:
        time.sleep(rng.uniform(*PAUSE[backend]))
        i = rng.randrange(len(workers))
        workers[i].send_signal(signal.SIGKILL)
        workers[i].wait()
        kills += 1
        workers[i] = start()
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(timeout=60)
    b = wait_until(lambda: (x := client.batch(batch.batch_id)).status == "completed" and x, 60)
    assert kills >= 5
    assert (b.completed_jobs, b.failed_jobs, b.pending_jobs, b.processing_jobs) == (n, 0, 0, 0)
    runs = collections.Counter(job_id for job_id, _pid, _attempt in records(record))
    assert len(runs) == n
    for job in client.list(batch_id=batch.batch_id, limit=20_000):
        assert job.status is JobStatus.COMPLETED
        assert runs[job.job_id] <= job.attempts  # every extra run was a new, counted attempt
