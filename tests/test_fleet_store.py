"""The worker registry and the fleet's routing rules, on every store backend."""

from __future__ import annotations

import json
from datetime import timedelta

from jobworker import errors
from jobworker.fleet import PluginRecord, WorkerRecord
from jobworker.model import Batch, Job, JobStatus, utcnow
from jobworker.store import Claim


def record(worker_id: str, now, types=("echo",), lease=1.0, **kw) -> WorkerRecord:
    r = WorkerRecord(
        worker_id, "host-a", 1234, "1.2.3", now, now, lease, 4, {t: 4 for t in types}, **kw
    )
    return r


def test_registry_round_trip_and_beat_renews_leases(store):
    now = utcnow()
    r = record(
        "w1",
        now,
        types=("echo", "pdf"),
        aliases={"old_pdf": "pdf"},
        unavailable={"audio": "ffmpeg is not installed"},
        plugins=[PluginRecord("pdf", "worker-plugin-pdf", "0.3.0")],
    )
    store.register_worker(r)
    [got] = store.workers()
    assert got == r
    assert got.serves("old_pdf") and got.serves("pdf") and not got.serves("audio")

    [job] = store.enqueue([Job("echo")])
    now = utcnow()
    [claimed] = store.claim(Claim("w1", 1.0, 1, ["echo"]), now)
    later = now + timedelta(seconds=0.8)
    beat = record("w1", now, running=[claimed.job_id], processed=5, failed=1)
    beat.heartbeat_at = later
    cancelled, lost = store.beat(beat, [claimed.job_id], later)
    assert (cancelled, lost) == (set(), set())
    [got] = store.workers()
    assert (got.heartbeat_at, got.running, got.processed, got.failed) == (
        later,
        [claimed.job_id],
        5,
        1,
    )
    # The beat renewed the lease too: nothing expires at the first lease's end.
    assert store.recover_expired(now + timedelta(seconds=1.5)) == []
    assert store.get_job(job.job_id).lease_expires_at == later + timedelta(seconds=1)


def test_liveness_states_and_pruning(store):
    now = utcnow()
    live, stopped, dead = record("live", now), record("stopped", now), record("dead", now)
    stopped.stopped_at = now
    dead.heartbeat_at = now - timedelta(seconds=3.5)  # 3 lease lengths of 1 s have passed
    for r in (live, stopped, dead):
        store.register_worker(r)
    states = {r.worker_id: r.state(now) for r in store.workers()}
    assert states == {"live": "live", "stopped": "stopped", "dead": "dead"}
    assert store.prune_workers(now - timedelta(seconds=1)) == 1
    assert {r.worker_id for r in store.workers()} == {"live", "stopped"}


def test_pending_types_skip_other_statuses(store):
    store.enqueue([Job("a"), Job("a"), Job("b"), Job("c")])
    store.claim(Claim("w", 30, 1, ["c"]), utcnow())
    assert store.pending_types() == {"a", "b"}


def test_sweep_fails_never_served_types_at_once_and_lists_live_types(store):
    now = utcnow()
    store.register_worker(record("w1", now, types=("echo", "pdf")))
    batch = Batch()
    stored = store.enqueue([Job("echo"), Job("typo"), Job("typo")], batch)
    done = store.sweep_unserved(now, grace=60)
    assert sorted(t.job_id for t in done) == sorted(j.job_id for j in stored[1:])
    assert done[-1].batch_finished is None  # the echo job is still pending
    for job in stored[1:]:
        failed = store.get_job(job.job_id)
        assert failed.status is JobStatus.FAILED and failed.attempts == 0
        assert failed.error.code == errors.UNKNOWN_JOB_TYPE
        assert "no live worker serves job type 'typo'" in failed.error.message
        assert "live workers serve: echo, pdf" in failed.error.message
        assert failed.logs[-1].message.startswith("UNKNOWN_JOB_TYPE: ")
    assert store.get_job(stored[0].job_id).status is JobStatus.PENDING
    counts = store.get_batch(batch.batch_id)
    assert (counts.pending_jobs, counts.failed_jobs) == (1, 2)


def test_sweep_waits_for_a_type_served_recently_then_fails_it(store):
    now = utcnow()
    gone = record("w-audio", now - timedelta(seconds=10), types=("audio",))  # died 10 s ago
    store.register_worker(gone)
    store.register_worker(record("w-pdf", now, types=("pdf",), lease=30))
    [job] = store.enqueue([Job("audio")])
    assert store.sweep_unserved(now, grace=30) == []  # within the grace: keep waiting
    assert store.get_job(job.job_id).status is JobStatus.PENDING
    [t] = store.sweep_unserved(now + timedelta(seconds=21), grace=30)
    assert t.job_id == job.job_id
    message = store.get_job(job.job_id).error.message
    assert "last served by w-audio, dead" in message and "live workers serve: pdf" in message


def test_sweep_leaves_types_of_live_workers_and_stopped_within_grace(store):
    now = utcnow()
    stopped = record("restarting", now, types=("ocr",))
    stopped.stopped_at = now  # a clean exit (rolling restart): its type waits for the grace
    store.register_worker(stopped)
    store.register_worker(record("w1", now, types=("echo",), aliases={"legacy": "echo"}))
    store.enqueue([Job("echo"), Job("legacy"), Job("ocr")])
    assert store.sweep_unserved(now, grace=5) == []
    assert store.count_by_status()["pending"] == 3


def test_typed_claim_and_next_due_time_ignore_other_types(store):
    store.enqueue([Job("other") for _ in range(50)])
    soon = utcnow() + timedelta(seconds=30)
    store.enqueue([Job("mine", available_at=soon), Job("mine", priority=5), Job("mine")])
    now = utcnow()
    got = store.claim(Claim("w", 30, 10, ["mine"]), now)
    assert [j.priority for j in got] == [5, 0]
    assert store.next_available_at(["mine"], now) == soon
    assert store.next_available_at(["absent"], now) is None
    assert store.next_available_at([], now) is None


def test_typed_claim_honours_type_slots_and_cluster_limits(store):
    store.enqueue([Job("a") for _ in range(5)] + [Job("b") for _ in range(5)])
    now = utcnow()
    limited = Claim("w1", 30, 10, ["a", "b"], type_slots={"a": 1}, cluster_limits={"b": 2})
    assert sorted(j.job_type for j in store.claim(limited, now)) == ["a", "b", "b"]
    rest = Claim("w2", 30, 10, ["a", "b"], cluster_limits={"b": 2})
    assert sorted(j.job_type for j in store.claim(rest, now)) == ["a"] * 4


def test_cli_workers_and_status_explain_the_fleet(store, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from jobworker.cli import cli

    monkeypatch.chdir(tmp_path)
    now = utcnow()
    store.register_worker(record("w-ocr", now, types=("ocr",), lease=30))
    gone = record("w-old", now - timedelta(hours=1), types=("pdf",))
    store.register_worker(gone)
    [job] = store.enqueue([Job("pdf")])
    url = store.url  # no password in the test URLs, so nothing is masked
    runner = CliRunner()
    listed = runner.invoke(cli, ["--store", url, "workers", "--json"], catch_exceptions=False)
    assert [w["worker_id"] for w in json.loads(listed.stdout)] == ["w-ocr"]
    table = runner.invoke(cli, ["--store", url, "workers", "--all"], catch_exceptions=False)
    assert "w-old" in table.stdout and "dead" in table.stdout and "ocr x4" in table.stdout
    status = runner.invoke(cli, ["--store", url, "status", job.job_id], catch_exceptions=False)
    assert "waiting: no live worker serves job type 'pdf' (last served by w-old, dead" in (
        status.stdout
    )
    assert "live workers serve: ocr" in status.stdout


def test_types_left_out_by_types_wait_for_a_worker_instead_of_failing(store):
    now = utcnow()
    store.register_worker(record("w-ocr-only", now, types=("ocr",), lease=30, installed=["pdf"]))
    [job] = store.enqueue([Job("pdf")])
    assert store.sweep_unserved(now, grace=0) == []
    assert store.get_job(job.job_id).status is JobStatus.PENDING
    from jobworker.fleet import unserved_reason

    reason = unserved_reason("pdf", store.workers(), now)
    assert "installed but left out by --types on w-ocr-only" in reason
