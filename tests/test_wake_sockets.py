"""The SQLite store's wake-up datagrams: a sender lists the folder of listening workers again
only when it changed, so a worker that starts listening is reached by the very next wake-up, a
worker that stopped is no longer sent to, and an unchanged folder costs one ``stat``."""

from __future__ import annotations

import os
import select
import time

from jobworker import JobHandler, connect, hookimpl
from jobworker.store.wake import Waker, WakeSocket
from jobworker.testing import make_plugins


def _received(sock: WakeSocket) -> int:
    n = 0
    try:
        while sock.sock.recv(64):
            n += 1
    except BlockingIOError:
        pass
    return n


def test_a_worker_listening_after_a_wake_up_gets_the_next_one(tmp_path):
    folder = tmp_path / "wake"
    waker = Waker(folder)
    waker.wake()  # no folder yet: nobody to wake, no error; looked for again after 50 ms
    first = WakeSocket(folder)
    time.sleep(Waker.ABSENT_RECHECK)
    waker.wake()
    second = WakeSocket(folder)  # within the same clock tick: the mtime may not have moved
    time.sleep(Waker.RECHECK)
    waker.wake()
    assert _received(first) == 2 and _received(second) == 1
    second.close()
    time.sleep(Waker.RECHECK)
    waker.wake()
    assert _received(first) == 1
    first.close()
    waker.close()


def test_an_unchanged_folder_is_not_listed_again(tmp_path, monkeypatch):
    folder = tmp_path / "wake"
    listener = WakeSocket(folder)
    waker = Waker(folder)
    past = time.time() - 10  # the last change long ago: a listing after it is settled
    os.utime(folder, (past, past))
    listings = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: listings.append(p) or real(p))
    for _ in range(5):
        waker.wake()
    assert len(listings) == 1 and _received(listener) == 5
    listener.sock.close()  # the worker died, its file left behind: refused, file removed
    waker.wake()
    assert not listener.path.exists() and len(listings) == 1
    os.utime(folder, (past, past))
    waker.wake()  # listed again after a refusal, then settled
    waker.wake()
    assert len(listings) == 2 and waker._targets == []
    waker.close()


class _Plugin:
    @hookimpl
    def register_job_handlers(self, register) -> None:
        register(JobHandler("t", lambda ctx: None))


def test_a_submit_wakes_workers_just_before_its_commit_unless_syncs_are_grouped(tmp_path):
    """Idle workers' wake-up overlaps the commit (their claim then waits for the write lock).
    With group syncs (``synchronous=FULL``) a worker may not see a job before its submit is
    durable, so the wake-up comes after the commit, as before."""
    for name, early in (("normal.db", True), ("full.db?synchronous=FULL", False)):
        client = connect(f"sqlite:///{tmp_path}/{name}", plugins=make_plugins([_Plugin()]))
        listener = client.store.notifier()
        at_commit: list[bool] = []
        after: list[bool] = []

        def commits(sql: str, listener=listener, at_commit=at_commit) -> None:
            if sql == "COMMIT":
                at_commit.append(bool(select.select([listener], [], [], 0)[0]))

        client.store._conn.set_trace_callback(commits)
        for submit, arg in ((client.submit, "t"), (client.submit_batch, [{"job_type": "t"}] * 3)):
            listener.drain()
            submit(arg)  # one job (the quick path), then a batch (the general one)
            after.append(bool(select.select([listener], [], [], 0)[0]))
        client.store._conn.set_trace_callback(None)
        assert at_commit == [early, early], name
        assert after == [True, True], name
        listener.close()
        client.close()
