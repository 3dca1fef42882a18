"""One bad job costs one job (issue 11, items 2, 4 and 5), on both stores, with real
``jobworker run`` processes: rows and documents that cannot be read are quarantined with
``INVALID_DOCUMENT`` while the good jobs around them complete, and ``list``/``status``/``watch``
keep working and show them as broken; a job left ``processing`` without a lease is reclaimed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker import connect, errors
from jobworker.model import JobStatus
from procs import child_env, jobworker_process

GOOD = 4


@pytest.fixture
def url(backend, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/jobs.db"
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwiso_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def client(url):
    import testjobs
    from jobworker.testing import make_plugins

    c = connect(url, plugins=make_plugins([testjobs]))
    yield c
    drop = getattr(c.store, "drop_database", None)
    if drop:
        drop()
    c.close()


def cli(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobworker", "--store", url, "--plugin", "testjobs", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(),
        timeout=120,
    )


# Ways to break a stored job, per backend: name -> how (SQL for SQLite, $set for MongoDB).
SQLITE_POISON = {
    "doc-not-json": "UPDATE jobs SET doc = '{\"parameters\": {' WHERE job_id = ?",
    "doc-is-array": "UPDATE jobs SET doc = '[1, 2, 3]' WHERE job_id = ?",
    "doc-invalid-utf8": "UPDATE jobs SET doc = CAST(X'7B22FF22' AS TEXT) WHERE job_id = ?",
    "doc-too-deep": 'UPDATE jobs SET doc = \'{"parameters": {"context": '
    + "[" * 20_000
    + "]" * 20_000
    + "}}' WHERE job_id = ?",
    "doc-deep-enough-to-overflow-views": 'UPDATE jobs SET doc = \'{"parameters": {"context": '
    + "[" * 900
    + "]" * 900
    + "}}' WHERE job_id = ?",
    "progress-not-json": "UPDATE jobs SET progress = 'nope' WHERE job_id = ?",
    "error-not-json": "UPDATE jobs SET error = '{' WHERE job_id = ?",
    "date-out-of-range": "UPDATE jobs SET created_at = 99999999999999999 WHERE job_id = ?",
}
MONGO_POISON = {
    "parameters-garbage": {"parameters": "garbage"},
    "progress-array": {"progress": [1, 2]},
    "created-at-text": {"created_at": "yesterday"},
    "results-text": {"results": "x"},
    "max-attempts-text": {"max_attempts": "three"},
    "error-text": {"error": "boom"},
}


# A broken progress is shown as broken, but the claim writes a fresh one: that job just runs.
HEALED_BY_CLAIM = {"progress-not-json", "progress-array"}


def poison(client, backend: str, job_id: str, how: object) -> None:
    if backend == "sqlite":
        with sqlite3.connect(client.store.path) as db:
            db.execute(how, (job_id,))  # type: ignore[arg-type]
        return
    client.store.jobs.update_one({"job_id": job_id}, {"$set": how})


def test_unreadable_jobs_are_quarantined_and_the_rest_flows(backend, url, client, tmp_path):
    kinds = SQLITE_POISON if backend == "sqlite" else MONGO_POISON
    good = [client.submit("noop", {}) for _ in range(GOOD)]
    bad = {name: client.submit("noop", {}) for name in kinds}
    more = [client.submit("echo", {"context": {"$date": "not-a-date"}}) for _ in range(GOOD)]
    for name, job in bad.items():
        poison(client, backend, job.job_id, kinds[name])
    # Every bad job shows as broken before any worker touches it; nothing crashes.
    for name, job in bad.items():
        shown = client.get(job.job_id)
        assert shown.error is not None and shown.error.code == errors.INVALID_DOCUMENT, name
    assert len(client.list(limit=100)) == 2 * GOOD + len(kinds)

    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path, stderr=subprocess.PIPE)
    _, stderr = worker.communicate(timeout=180)
    assert worker.returncode == 0, stderr.decode()[-2000:]
    healed = [job for name, job in bad.items() if name in HEALED_BY_CLAIM]
    bad = {name: job for name, job in bad.items() if name not in HEALED_BY_CLAIM}
    for job in [*good, *more, *healed]:
        assert client.get(job.job_id).status is JobStatus.COMPLETED
    for name, job in bad.items():
        done = client.get(job.job_id)
        assert done.status is JobStatus.FAILED, name
        assert done.error.code == errors.INVALID_DOCUMENT, name
        assert done.error.details["problem"], name
    assert stderr.decode().count("quarantined job") == len(bad)
    assert client.store.count_by_status()["failed"] == len(bad)

    listed = cli(url, "list", "--json", "--limit", "100", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    shown = {j["job_id"]: j for j in json.loads(listed.stdout)}
    for name, job in bad.items():
        assert shown[job.job_id]["error"]["code"] == errors.INVALID_DOCUMENT, name
    table = cli(url, "list", "--limit", "100", cwd=tmp_path)
    assert table.returncode == 0 and table.stdout.count("INVALID_DOCUMENT") == len(bad)
    for job in bad.values():
        status = cli(url, "status", job.job_id, "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["error"]["code"] == errors.INVALID_DOCUMENT
        plain = cli(url, "status", job.job_id, cwd=tmp_path)
        assert plain.returncode == 0 and "INVALID_DOCUMENT" in plain.stdout
    watched = cli(url, "watch", next(iter(bad.values())).job_id, cwd=tmp_path)
    assert watched.returncode == 1, watched.stderr  # 1: the watched job failed (docs/cli.md)
    assert "Traceback" not in watched.stderr and "INVALID_DOCUMENT" in watched.stderr


def test_a_quarantined_job_in_a_batch_still_finishes_the_batch(backend, url, client, tmp_path):
    batch = client.submit_batch([{"job_type": "noop"} for _ in range(5)])
    victim = client.list(batch_id=batch.batch_id)[0]
    how = SQLITE_POISON["doc-not-json"] if backend == "sqlite" else MONGO_POISON["results-text"]
    poison(client, backend, victim.job_id, how)
    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path)
    assert worker.wait(timeout=120) == 0
    done = client.batch(batch.batch_id)
    assert (done.status, done.completed_jobs, done.failed_jobs) == ("completed", 4, 1)
    assert (done.pending_jobs, done.processing_jobs) == (0, 0)


@pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set")
@pytest.mark.parametrize("backend", ["mongo"])
def test_mongo_document_with_null_logs_still_completes(backend, url, client, tmp_path):
    job = client.submit("async", {"steps": 2})
    others = [client.submit("noop", {}) for _ in range(3)]
    client.store.jobs.update_one({"job_id": job.job_id}, {"$set": {"logs": None}})
    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path)
    assert worker.wait(timeout=120) == 0
    done = client.get(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert any("attempt 1" in e.message for e in done.logs)
    assert all(client.get(o.job_id).status is JobStatus.COMPLETED for o in others)


def test_job_left_processing_without_a_lease_is_reclaimed(backend, url, client, tmp_path):
    (tmp_path / "jobworker.toml").write_text("[worker]\nretry_backoff = 0\n")
    stuck = client.submit("noop", {})
    fine = client.submit("noop", {})
    if backend == "sqlite":
        with sqlite3.connect(client.store.path) as db:
            db.execute(
                "UPDATE jobs SET status = 'processing', attempts = 1, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE job_id = ?",
                (stuck.job_id,),
            )
    else:  # claimed by a jobworker worker whose lease fields were lost
        client.store.jobs.update_one(
            {"job_id": stuck.job_id},
            {
                "$set": {"status": "processing", "attempts": 1, "lease_owner": "gone"},
                "$unset": {"lease_expires_at": ""},
            },
        )
    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path)
    assert worker.wait(timeout=120) == 0
    done = client.get(stuck.job_id)
    assert done.status is JobStatus.COMPLETED and done.attempts == 2
    assert any(errors.WORKER_LOST in e.message or "lease" in e.message for e in done.logs) or (
        done.attempts == 2
    )
    assert client.get(fine.job_id).status is JobStatus.COMPLETED


# -- the worker's safety net: a failing batched round trip is split -------------------------


def _harness(tmp_path):
    import testjobs
    from jobworker.testing import WorkerHarness

    return WorkerHarness(tmp_path, plugins=[testjobs], concurrency=4)


def test_a_round_trip_failing_for_one_job_is_split_and_the_others_commit(tmp_path):
    import asyncio

    with _harness(tmp_path) as h:
        jobs = [h.client.submit("async", {"sleep": 0.05}) for _ in range(8)]
        poisoned = jobs[3].job_id
        real = h.store.exchange

        def exchange(worker_id, now, **work):
            if any(o.job_id == poisoned and o.kind == "completed" for o in work["outcomes"]):
                raise ValueError("this job's results cannot be stored")
            return real(worker_id, now, **work)

        h.store.exchange = exchange  # type: ignore[method-assign]
        worker = h.worker(burst=True)
        asyncio.run(worker.run())
        for job in jobs:
            done = h.client.get(job.job_id)
            if job.job_id == poisoned:
                assert done.status is JobStatus.FAILED
                assert done.error.code == errors.INVALID_DOCUMENT
                assert "cannot be stored" in done.error.message
                assert done.attempts == 1  # not retried
            else:
                assert done.status is JobStatus.COMPLETED


def test_a_store_that_fails_for_everyone_loses_nothing(tmp_path):
    """All parts failing with a non-data error is the store's problem: everything is kept and
    written once the store works again (no job is blamed)."""
    import asyncio
    import sqlite3 as sq

    with _harness(tmp_path) as h:
        jobs = [h.client.submit("async", {"sleep": 0.05}) for _ in range(6)]
        real = h.store.exchange
        calls = {"n": 0}

        def exchange(worker_id, now, **work):
            if work["outcomes"] and calls["n"] < 3:
                calls["n"] += 1
                raise sq.OperationalError("disk I/O error")
            return real(worker_id, now, **work)

        h.store.exchange = exchange  # type: ignore[method-assign]
        worker = h.worker(burst=True)
        asyncio.run(worker.run())
        assert calls["n"] == 3
        assert {h.client.get(j.job_id).status for j in jobs} == {JobStatus.COMPLETED}


def test_a_broken_batch_document_does_not_stop_its_jobs(backend, url, client, tmp_path):
    batch = client.submit_batch([{"job_type": "noop"} for _ in range(3)])
    if backend == "sqlite":
        with sqlite3.connect(client.store.path) as db:
            db.execute("UPDATE batches SET doc = '{oops' WHERE batch_id = ?", (batch.batch_id,))
    else:
        client.store.batches.update_one(
            {"batch_id": batch.batch_id}, {"$set": {"access_control": 5}}
        )
    shown = client.batch(batch.batch_id)
    assert shown.unknown["broken"] and shown.total_jobs == 3
    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path)
    assert worker.wait(timeout=120) == 0
    assert {j.status for j in client.list(batch_id=batch.batch_id)} == {JobStatus.COMPLETED}
    done = client.batch(batch.batch_id)
    assert (done.status, done.completed_jobs, done.failed_jobs) == ("completed", 3, 0)
    out = cli(url, "batch", "status", batch.batch_id, cwd=tmp_path)
    assert out.returncode == 0 and "completed" in out.stdout, out.stderr
