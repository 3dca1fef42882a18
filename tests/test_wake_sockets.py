"""The SQLite store's wake-up datagrams: a sender lists the folder of listening workers again
only when it changed, so a worker that starts listening is reached by the very next wake-up, a
worker that stopped is no longer sent to, and an unchanged folder costs one ``stat``."""

from __future__ import annotations

import os
import time

from jobworker.store.wake import Waker, WakeSocket


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
    waker.wake()  # no folder yet: nobody to wake, no error
    first = WakeSocket(folder)
    waker.wake()
    second = WakeSocket(folder)  # within the same instant: the mtime may not have moved
    waker.wake()
    assert _received(first) == 2 and _received(second) == 1
    second.close()
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
