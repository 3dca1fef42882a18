"""Claiming ahead (``prefetch_multiplier``, :mod:`jobworker.worker_claims`): short jobs are claimed
beyond the free slots and never run beyond ``concurrency`` at once; jobs claimed ahead behind a
long attempt are handed back uncharged after ``PREFETCH_HOLD``, at a stop, or end as cancelled
without running; their leases are renewed while they wait. Real SQLite files, a worker in a
thread of the test process."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import attrs
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


def test_short_jobs_are_claimed_ahead_and_never_run_beyond_concurrency(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_claims, "PREFETCH_WAIT", 0.2)  # short even on a loaded machine
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


@attrs.define
class Held:
    h: WorkerHarness
    bg: Background
    gate: Path
    record: Path
    long_id: str
    shorts: list[str]
    claims: list[tuple[int, int]]

    def handed_back(self) -> None:
        """Wait until the short jobs are pending again, uncharged."""
        get = self.h.client.get
        wait_until(lambda: all(get(i).status is JobStatus.PENDING for i in self.shorts), 30)
        assert all(get(i).attempts == 0 for i in self.shorts)

    def finish(self, ids: list[str]) -> None:
        """Open the long job's gate: those jobs complete, each in its first attempt."""
        (self.gate / self.long_id).touch()
        for i in ids:
            job = self.h.client.wait(i, timeout=60)
            assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)


@contextlib.contextmanager
def claimed_ahead(tmp_path, monkeypatch, hold: float = 60.0, **options):
    """A worker (concurrency 1) running a gated job with three short ones claimed ahead of it:
    all four submitted together, so one claim takes them (the long one first by priority).
    ``PREFETCH_WAIT`` is 0.2 s here, so that a loaded machine's slower warm-up jobs still
    count as short."""
    monkeypatch.setattr(worker_claims, "PREFETCH_HOLD", hold)
    monkeypatch.setattr(worker_claims, "PREFETCH_WAIT", 0.2)
    gate, record = tmp_path / "gate", tmp_path / "record.txt"
    gate.mkdir()
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=1, **options) as h:
        bg = Background(h)
        long_id = None
        try:
            _warm(h)
            claims = _claims(h.store)
            entries = [{"job_type": "async", "parameters": {"gate": str(gate)}, "priority": 5}]
            entries += [{"job_type": "async", "parameters": {"record": str(record)}}] * 3
            _, jobs = h.client.submit_batch_jobs(entries)
            long_id = jobs[0].job_id
            wait_until(lambda: h.client.get(long_id).status is JobStatus.PROCESSING, 30)
            shorts = [j.job_id for j in jobs[1:]]
            yield Held(h, bg, gate, record, long_id, shorts, claims)
        finally:
            if long_id is not None:
                (gate / long_id).touch()  # a failed test's worker still stops in time
            bg.stop()


def test_jobs_held_behind_a_long_attempt_are_handed_back_uncharged(tmp_path, monkeypatch):
    with claimed_ahead(tmp_path, monkeypatch, hold=0.5) as held:
        assert any(claimed == 4 for _, claimed in held.claims), held.claims  # 1 + 3 ahead
        held.handed_back()
        time.sleep(0.5)  # the long attempt (> PREFETCH_WAIT) still runs: nothing claimed ahead
        assert all(held.h.client.get(i).status is JobStatus.PENDING for i in held.shorts)
        assert held.h.client.get(held.long_id).status is JobStatus.PROCESSING
        assert not held.record.exists()  # no short job ran
        held.finish([held.long_id, *held.shorts])
    assert len(held.record.read_text().splitlines()) == 3


def test_a_stopping_worker_hands_back_what_it_claimed_ahead(tmp_path, monkeypatch):
    with claimed_ahead(tmp_path, monkeypatch, shutdown_grace=0.5) as held:
        assert all(held.h.client.get(i).status is JobStatus.PROCESSING for i in held.shorts)
        held.bg.stop()
        for i in [held.long_id, *held.shorts]:
            job = held.h.client.get(i)
            assert (job.status, job.attempts) == (JobStatus.PENDING, 0), i
    assert not held.record.exists()


def test_a_plugin_reload_hands_back_what_was_claimed_under_the_old_plugins(tmp_path, monkeypatch):
    with claimed_ahead(tmp_path, monkeypatch) as held:
        assert all(held.h.client.get(i).status is JobStatus.PROCESSING for i in held.shorts)
        time.sleep(0.3)  # the long attempt is past PREFETCH_WAIT: nothing is claimed ahead again
        held.bg.loop.call_soon_threadsafe(held.bg.worker.request_reload)
        held.handed_back()
        held.finish([held.long_id, *held.shorts])


def test_a_job_cancelled_while_claimed_ahead_ends_without_running(tmp_path, monkeypatch):
    """And the leases of jobs waiting for a slot are renewed like those of running ones: with
    1 s leases, they are still this worker's after 2.5 s."""
    with claimed_ahead(tmp_path, monkeypatch, lease_seconds=1.0) as held:
        time.sleep(2.5)
        for i in held.shorts:
            job = held.h.client.get(i)
            assert (job.status, job.attempts) == (JobStatus.PROCESSING, 1), i
        held.h.client.cancel(held.shorts[0])
        job = held.h.client.wait(held.shorts[0], timeout=30)
        assert job.status is JobStatus.FAILED
        assert job.error is not None and job.error.code == CANCELLED
        assert held.h.client.get(held.shorts[1]).status is JobStatus.PROCESSING  # still waiting
        held.finish([held.long_id, *held.shorts[1:]])
    ran = {line.split()[0] for line in held.record.read_text().splitlines()}
    assert ran == set(held.shorts[1:])  # the cancelled one never ran


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
