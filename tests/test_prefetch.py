"""Claiming ahead (``prefetch_multiplier``, :mod:`jobworker.worker_claims`): short jobs are claimed
beyond the free slots and never run beyond ``concurrency`` at once; jobs claimed ahead behind a
long attempt are handed back uncharged after ``PREFETCH_HOLD``, at a stop, or end as cancelled
without running; their leases are renewed while they wait. Real SQLite files, a worker in a
thread of the test process."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import testjobs
from background import Background
from jobworker import JobHandler, hookimpl, worker_claims
from jobworker.errors import CANCELLED
from jobworker.model import JobStatus, utcnow
from jobworker.store import open_store
from jobworker.testing import WorkerHarness
from procs import wait_until


class Probe:
    """The ``probe`` job type: counts the attempts running at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.ran = 0

    @hookimpl
    def register_job_handlers(self, register):
        register(JobHandler("probe", self.run, backoff=0))

    async def run(self, ctx):
        self.now += 1
        self.ran += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0)  # let the other attempts of the loop in
        self.now -= 1


def _claims(store):
    """Record ``(limit, claimed)`` of every claim the worker makes through ``store``."""
    seen: list[tuple[int, int]] = []
    original = store.exchange

    def exchange(*args, **kwargs):
        done, claimed = original(*args, **kwargs)
        if kwargs.get("claim") is not None:
            seen.append((kwargs["claim"].limit, len(claimed)))
        return done, claimed

    store.exchange = exchange
    return seen


def test_short_jobs_are_claimed_ahead_and_never_run_beyond_concurrency(tmp_path):
    probe = Probe()
    with WorkerHarness(tmp_path, plugins=[probe], concurrency=2) as h:
        h.client.submit_batch([{"job_type": "probe", "parameters": {}} for _ in range(300)])
        seen = _claims(h.store)
        worker = h.run_burst()
        assert worker.processed == 300
        assert h.store.count_by_status()["completed"] == 300
    assert probe.ran == 300  # each once
    assert probe.most <= 2  # concurrency holds, whatever was claimed
    assert max(claimed for _, claimed in seen) > 2, seen  # some claims took jobs ahead
    assert max(limit for limit, _ in seen) <= 2 * 4  # never more held than 4 x concurrency


def _warm(h):
    """A few short jobs first, so that the worker knows its attempts end quickly."""
    jobs = [h.client.submit("noop", {}) for _ in range(5)]
    for job in jobs:
        assert h.client.wait(job.job_id, timeout=60).status is JobStatus.COMPLETED


def _long_and_short(h, gate: Path, record: Path, shorts: int = 3):
    """A gated job and ``shorts`` short ones, submitted together: one claim takes all of them
    (the long one ahead by priority), so the short ones wait behind it."""
    gate.mkdir(exist_ok=True)
    entries = [{"job_type": "async", "parameters": {"gate": str(gate)}, "priority": 5}]
    entries += [{"job_type": "async", "parameters": {"record": str(record)}}] * shorts
    _, jobs = h.client.submit_batch_jobs(entries)
    long_id, shorts = jobs[0].job_id, [j.job_id for j in jobs[1:]]
    wait_until(lambda: h.client.get(long_id).status is JobStatus.PROCESSING, timeout=30)
    return long_id, shorts


def test_jobs_held_behind_a_long_attempt_are_handed_back_uncharged(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_claims, "PREFETCH_HOLD", 0.3)
    gate, record = tmp_path / "gate", tmp_path / "record.txt"
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=1) as h:
        bg = Background(h)
        try:
            _warm(h)
            seen = _claims(h.store)
            long_id, shorts = _long_and_short(h, gate, record)
            assert any(claimed == 4 for _, claimed in seen), seen  # claimed ahead: 1 + 3
            pending = lambda: [h.client.get(i) for i in shorts]  # noqa: E731
            wait_until(lambda: all(j.status is JobStatus.PENDING for j in pending()), 30)
            assert all(j.attempts == 0 for j in pending())  # handed back, not charged
            time.sleep(0.5)  # the long attempt still runs: nothing is claimed ahead of it
            assert all(j.status is JobStatus.PENDING for j in pending())
            assert h.client.get(long_id).status is JobStatus.PROCESSING
            assert not record.exists()  # no short job ran
            (gate / long_id).touch()
            for i in [long_id, *shorts]:
                job = h.client.wait(i, timeout=60)
                assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
        finally:
            bg.stop()
    assert len(record.read_text().splitlines()) == 3


def test_a_stopping_worker_hands_back_what_it_claimed_ahead(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_claims, "PREFETCH_HOLD", 60.0)
    gate, record = tmp_path / "gate", tmp_path / "record.txt"
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=1, shutdown_grace=0.5) as h:
        bg = Background(h)
        stopped = False
        try:
            _warm(h)
            long_id, shorts = _long_and_short(h, gate, record)
            assert all(h.client.get(i).status is JobStatus.PROCESSING for i in shorts)
            bg.stop()
            stopped = True
        finally:
            if not stopped:
                bg.stop()
        for i in [long_id, *shorts]:
            job = h.client.get(i)
            assert (job.status, job.attempts) == (JobStatus.PENDING, 0), i
    assert not record.exists()


def test_a_plugin_reload_hands_back_what_was_claimed_under_the_old_plugins(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_claims, "PREFETCH_HOLD", 60.0)
    gate, record = tmp_path / "gate", tmp_path / "record.txt"
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=1) as h:
        bg = Background(h)
        try:
            _warm(h)
            long_id, shorts = _long_and_short(h, gate, record)
            assert all(h.client.get(i).status is JobStatus.PROCESSING for i in shorts)
            bg.loop.call_soon_threadsafe(bg.worker.request_reload)
            wait_until(lambda: all(h.client.get(i).status is JobStatus.PENDING for i in shorts), 30)
            assert all(h.client.get(i).attempts == 0 for i in shorts)
            (gate / long_id).touch()
            for i in [long_id, *shorts]:
                job = h.client.wait(i, timeout=60)
                assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
        finally:
            bg.stop()


def test_a_job_cancelled_while_claimed_ahead_ends_without_running(tmp_path, monkeypatch):
    """And the leases of jobs waiting for a slot are renewed like those of running ones: with
    1 s leases, they are still this worker's after 2.5 s."""
    monkeypatch.setattr(worker_claims, "PREFETCH_HOLD", 60.0)
    gate, record = tmp_path / "gate", tmp_path / "record.txt"
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=1, lease_seconds=1.0) as h:
        bg = Background(h)
        try:
            _warm(h)
            long_id, shorts = _long_and_short(h, gate, record)
            time.sleep(2.5)
            for i in shorts:
                job = h.client.get(i)
                assert (job.status, job.attempts) == (JobStatus.PROCESSING, 1), i
            h.client.cancel(shorts[0])
            job = h.client.wait(shorts[0], timeout=30)
            assert job.status is JobStatus.FAILED
            assert job.error is not None and job.error.code == CANCELLED
            assert h.client.get(shorts[1]).status is JobStatus.PROCESSING  # still waiting
            (gate / long_id).touch()
            for i in [long_id, *shorts[1:]]:
                assert h.client.wait(i, timeout=60).status is JobStatus.COMPLETED
        finally:
            bg.stop()
    ran = {line.split()[0] for line in record.read_text().splitlines()}
    assert ran == set(shorts[1:])  # the cancelled one never ran


def test_prefetch_multiplier_one_claims_only_free_slots(tmp_path):
    probe = Probe()
    with WorkerHarness(tmp_path, plugins=[probe], concurrency=2, prefetch_multiplier=1) as h:
        h.client.submit_batch([{"job_type": "probe", "parameters": {}} for _ in range(100)])
        seen = _claims(h.store)
        assert h.run_burst().processed == 100
    assert max(limit for limit, _ in seen) <= 2, seen


def test_sqlite_try_now_does_not_wait_for_another_process_lock(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        round_trip = lambda: store.exchange("w", utcnow())  # noqa: E731  (one write transaction)
        assert store.try_now(round_trip) == ([], [])
        other = sqlite3.connect(tmp_path / "q.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write lock
        try:
            t0 = time.monotonic()
            assert store.try_now(round_trip) is None
            assert time.monotonic() - t0 < 1.0  # returned at once, not after a busy wait
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.try_now(round_trip) == ([], [])
    finally:
        store.close()


@pytest.mark.parametrize("multiplier", [0, -1])
def test_prefetch_multiplier_below_one_is_refused(multiplier, tmp_path):
    from jobworker.config import load_settings

    with pytest.raises(ValueError, match="prefetch_multiplier"):
        load_settings(prefetch_multiplier=multiplier)
