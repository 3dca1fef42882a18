"""An idle worker beside jobs it cannot claim (other types, delayed) waits for its poll
interval instead of spinning: counted in store calls, not CPU time, so load cannot flake it.
The CPU figure of a real ``jobworker run`` process is in docs/benchmarks.md
(``bench/idle_cpu.py``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import timedelta

import testjobs
from background import Background
from jobworker.model import Job, JobParameters, JobStatus, utcnow
from jobworker.testing import WorkerHarness
from jobworker.worker import Worker
from procs import wait_until


def test_idle_typed_worker_does_not_spin_on_jobs_it_cannot_claim(store, tmp_path):
    now = utcnow()
    store.enqueue([Job("other", JobParameters.from_dict({})) for _ in range(300)])
    store.enqueue(
        [
            Job("async", JobParameters.from_dict({}), available_at=now + timedelta(hours=1))
            for _ in range(300)
        ]
    )
    calls: Counter[str] = Counter()
    for name in ("exchange", "claim", "next_available_at"):
        original = getattr(store, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(store, name, counted)
    with WorkerHarness(tmp_path, plugins=[testjobs], poll_interval=1.0) as h:
        worker = h.worker(types=["async"])
        worker.store = store
        loop: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            loop.append(asyncio.get_running_loop())
            await worker.run()

        thread = threading.Thread(target=lambda: asyncio.run(main()))
        thread.start()
        try:
            time.sleep(0.5)
            calls.clear()
            time.sleep(2.0)
            window = dict(calls)
        finally:
            while not loop:
                time.sleep(0.01)
            loop[0].call_soon_threadsafe(worker.request_stop)
            thread.join(30)
    assert not thread.is_alive()
    # One claim per poll interval (1 s) over 2 s: about 2, never the hundreds of a spin.
    assert window.get("claim", 0) <= 4, window
    assert window.get("next_available_at", 0) <= 4, window
    assert store.count_by_status()["pending"] == 600


def test_a_worker_writes_what_its_last_round_trip_left_before_it_idles(tmp_path, monkeypatch):
    """The marks of a finished job's announcement are written as the worker goes idle, not by
    the round trip of the next job's pickup (nor by the flush timer, pushed out of reach)."""
    monkeypatch.setattr(Worker, "flush_interval", 1000.0)
    with WorkerHarness(tmp_path, plugins=[testjobs], poll_interval=1000.0) as h:
        bg = Background(h)
        try:
            job = h.client.submit("noop", {})
            assert h.client.wait(job.job_id, timeout=60).status is JobStatus.COMPLETED
            later = utcnow() + timedelta(hours=1)
            wait_until(lambda: h.store.unannounced(later) == [], timeout=20)
        finally:
            bg.stop()
