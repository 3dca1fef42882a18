"""Lifecycle hooks run off the worker's event loop: a slow hook delays no job, is logged, and is
waited for at most ``hook_timeout``; hooks' store calls run on the worker's I/O thread."""

from __future__ import annotations

import threading

import structlog
import testjobs
from background import Background
from jobworker import hookimpl
from jobworker.model import JobStatus, utcnow
from jobworker.testing import WorkerHarness


def test_a_slow_job_finished_hook_does_not_delay_a_concurrent_async_job(tmp_path):
    """The hook blocks until the test has seen the async job complete: the proof is the order
    of events, and the waits below only bound a hang (generous: a starved CI machine)."""
    events: list[tuple[str, str]] = []
    entered, release = threading.Event(), threading.Event()

    class SlowObserver:
        @hookimpl
        def job_finished(self, job):
            events.append(("hook started", job.job_type))
            if job.job_type == "noop":
                entered.set()
                release.wait(600)  # until the test has seen the async job finish (or failed)
            events.append(("hook ended", job.job_type))

    with WorkerHarness(
        tmp_path, plugins=[testjobs, SlowObserver()], hook_timeout=900, lease_seconds=600
    ) as h:
        bg = Background(h)
        try:
            h.client.submit("noop", {})
            assert entered.wait(120), "the job_finished hook never ran"
            job = h.client.submit("async", {"n": 7, "steps": 3, "sleep": 0.03})
            # Were hooks run on the loop, the worker could not even claim this job now.
            done = h.client.wait(job.job_id, timeout=120)
            still_sleeping = not release.is_set() and ("hook ended", "noop") not in events
            events.append(("async job completed", "async"))
            release.set()
        finally:
            release.set()
            bg.stop()
        # The worker waited for the slow hook on its way out and marked both announced.
        assert h.store.unannounced(utcnow()) == []
    assert done.status is JobStatus.COMPLETED and done.results["structured_data"]["n"] == 7
    assert still_sleeping
    assert events[:3] == [
        ("hook started", "noop"),
        ("async job completed", "async"),
        ("hook ended", "noop"),
    ]
    assert ("hook ended", "async") in events  # its own hook ran after the slow one


def test_a_hook_over_its_time_limit_is_logged_and_announced_again_later(tmp_path):
    release = threading.Event()
    calls: list[str] = []

    class Stuck:
        @hookimpl
        def job_finished(self, job):
            calls.append(job.job_id)
            release.wait(30)

    with WorkerHarness(tmp_path, plugins=[testjobs, Stuck()], hook_timeout=0.3) as h:
        job = h.client.submit("noop", {})
        with structlog.testing.capture_logs() as logs:
            h.run_burst()  # returns although the hook is still sleeping
            overran = [e for e in logs if "overran" in e["event"]]
            release.set()
        assert calls == [job.job_id]
        assert overran and overran[0]["limit"] == 0.3
        assert h.client.get(job.job_id).status is JobStatus.COMPLETED
        # Not marked announced: the sweep of a later worker runs the hook again.
        assert [t.job_id for t in h.store.unannounced(utcnow())] == [job.job_id]


def test_a_slow_hook_is_logged_with_its_name_and_plugin(tmp_path):
    import time

    class Sluggish:
        @hookimpl
        def job_started(self, job):
            time.sleep(0.25)

    with WorkerHarness(tmp_path, plugins=[testjobs, Sluggish()]) as h:
        h.plugins.slow_hook_seconds = 0.2
        h.client.submit("noop", {})
        with structlog.testing.capture_logs() as logs:
            h.run_burst()
    [slow] = [e for e in logs if e["event"] == "slow hook"]
    assert slow["hook"] == "job_started" and slow["seconds"] >= 0.2
    assert len(slow["plugins"]) == 1


def test_hooks_store_calls_run_on_the_worker_io_thread(tmp_path):
    threads: list[str] = []

    class Recorder:
        @hookimpl
        def job_finished(self, job, store):
            threads.append(threading.current_thread().name)
            original = store._store.get_job  # the real store behind the worker's forwarding

            def spy(*args, **kwargs):
                threads.append(threading.current_thread().name)
                return original(*args, **kwargs)

            store._store.get_job = spy
            try:
                assert store.get_job(job.job_id).status is JobStatus.COMPLETED
            finally:
                del store._store.get_job

    with WorkerHarness(tmp_path, plugins=[testjobs, Recorder()]) as h:
        h.client.submit("noop", {})
        h.run_burst()
    assert threads[0].startswith("jobworker-hooks")
    assert threads[1].startswith("jobworker-io")


def test_ends_with_nothing_to_announce_are_marked_without_the_hook_thread(tmp_path):
    """No hook implemented, no webhook, no batch: the worker writes the end announced itself;
    a job in a batch still goes through announce (its batch may have a webhook)."""
    import asyncio

    with WorkerHarness(tmp_path, plugins=[testjobs]) as h:
        plain = h.client.submit("noop", {})
        _batch, [in_batch] = h.client.submit_batch_jobs([{"job_type": "noop"}])
        worker = h.worker(burst=True)
        announced: list[list[str]] = []
        original = worker._hooks.run

        async def recording(what, fn, *args):
            announced.append([t.job_id for t in args[2]])  # announce(plugins, store, transitions)
            return await original(what, fn, *args)

        worker._hooks.run = recording
        asyncio.run(worker.run())
        assert h.store.unannounced(utcnow()) == []  # both marked announced
        assert [in_batch.job_id] in announced  # the batch job's end went through announce
        assert all(plain.job_id not in ids for ids in announced)  # the plain one's did not
        assert worker._quiet == set()  # nothing left behind
        assert h.client.get(plain.job_id).status is JobStatus.COMPLETED
        assert h.client.get(in_batch.job_id).status is JobStatus.COMPLETED
