"""A worker's wake-up channel follows the types it serves: a plugin reload that changes them
closes the channel opened for the old types and opens one for the new. (A MongoDB change
stream is filtered by type, `test_mongo_notify.py`; the wire test server has no change
streams, so the channel is watched here through the SQLite store's, with the idle poll an hour
away: a job of the new type is picked up only if the new channel wakes the worker.)"""

from __future__ import annotations

import time

import testjobs
from background import Background
from jobworker import JobHandler, hookimpl, worker_duties
from jobworker.model import JobStatus
from jobworker.testing import WorkerHarness, make_plugins
from procs import wait_until


async def _noop(ctx):
    return None


class Extra:
    """A plugin serving one more type, ``extra``."""

    @hookimpl
    def register_job_handlers(self, register):
        register(JobHandler("extra", _noop))


def test_a_reload_that_changes_the_types_listens_for_the_new_ones(tmp_path, monkeypatch):
    opened: list[tuple[list[str], list[bool]]] = []
    with WorkerHarness(tmp_path, plugins=[testjobs], poll_interval=3600.0) as h:
        original = h.store.notifier

        def notifier(types=None):
            channel = original(types)
            closed: list[bool] = []
            close = channel.close

            def closing():
                closed.append(True)
                close()

            channel.close = closing
            opened.append((sorted(types or ()), closed))
            return channel

        h.store.notifier = notifier
        monkeypatch.setattr(
            worker_duties, "reload_plugins", lambda old: make_plugins([testjobs, Extra()])
        )
        bg = Background(h)
        try:
            wait_until(lambda: len(opened) == 1, 30)
            assert "extra" not in opened[0][0]
            bg.loop.call_soon_threadsafe(bg.worker.request_reload)
            wait_until(lambda: len(opened) == 2, 30)
            assert "extra" in opened[1][0] and "noop" in opened[1][0]
            assert opened[0][1] == [True]  # the old channel is closed
            time.sleep(0.6)  # the client's list of listening workers is re-read every 0.5 s
            job = h.client.submit("extra", {}, allow_unknown_type=True)  # the worker knows it
            assert h.client.wait(job.job_id, timeout=30).status is JobStatus.COMPLETED
        finally:
            bg.stop()
    assert opened[1][1] == [True]  # closed when the worker stopped
