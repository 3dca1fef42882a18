"""``synchronous=FULL`` with group syncs (:mod:`jobworker.store.sqlite.walsync`): the connection
commits at NORMAL and a sync thread ``fdatasync``s the write-ahead log. A submit returns only
once a sync has covered its commit; the worker's round trips return at once, and it announces
what they wrote only after such a sync. Every ordering below is proved by events, not time."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

import pytest
import testjobs
from jobworker import hookimpl
from jobworker.client import Client
from jobworker.config import Settings
from jobworker.model import JobStatus, utcnow
from jobworker.store import Claim, StoreError, open_store
from jobworker.store.sqlite import walsync
from jobworker.testing import make_plugins
from jobworker.worker import Worker


def synchronous_pragma(store) -> int:
    return store._conn.execute("PRAGMA synchronous").fetchone()[0]


def test_full_commits_at_normal_and_syncs_the_wal_file(tmp_path, monkeypatch):
    synced: list[bool] = []
    real = walsync._datasync

    def recording(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino == os.stat(f"{tmp_path / 'j.db'}-wal").st_ino)
        real(fd)

    monkeypatch.setattr(walsync, "_datasync", recording)
    store = open_store(f"sqlite:///{tmp_path / 'j.db'}?synchronous=FULL")
    try:
        assert synchronous_pragma(store) == 1  # NORMAL: the sync thread does the syncing
        Client(store, make_plugins([testjobs])).submit("noop", {})
        assert synced and all(synced)  # the WAL file itself, before submit returned
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "pragma"),
    [("?synchronous=FULL&group_sync=false", 2), ("", 1), ("?synchronous=NORMAL", 1)],
)
def test_without_group_sync_sqlite_syncs_each_commit_itself(tmp_path, monkeypatch, url, pragma):
    calls: list[int] = []
    monkeypatch.setattr(walsync, "_datasync", calls.append)
    store = open_store(f"sqlite:///{tmp_path / 'j.db'}{url}")
    try:
        assert synchronous_pragma(store) == pragma
        Client(store, make_plugins([testjobs])).submit("noop", {})
        assert calls == []
        assert store.sync_point() is None
    finally:
        store.close()


def test_a_submit_returns_only_once_a_sync_has_covered_its_commit(tmp_path, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real = walsync._datasync

    def held(fd: int) -> None:
        entered.set()
        release.wait(600)
        real(fd)

    store = open_store(f"sqlite:///{tmp_path / 'j.db'}?synchronous=FULL")
    monkeypatch.setattr(walsync, "_datasync", held)
    client = Client(store, make_plugins([testjobs]))
    returned: list[str] = []
    thread = threading.Thread(target=lambda: returned.append(client.submit("noop", {}).job_id))
    try:
        thread.start()
        assert entered.wait(60), "no sync was started"
        # committed (another connection sees the job) but not durable: submit has not returned
        with sqlite3.connect(tmp_path / "j.db") as other:
            assert other.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
        assert returned == [] and thread.is_alive()
        release.set()
        thread.join(60)
        assert len(returned) == 1
    finally:
        release.set()
        thread.join(60)
        store.close()


def test_concurrent_commits_share_syncs(tmp_path, monkeypatch):
    syncs: list[int] = []
    real = walsync._datasync
    gate = threading.Event()

    def slow(fd: int) -> None:
        syncs.append(fd)
        gate.wait(0.02)  # a slow disk: commits of other threads land meanwhile
        real(fd)

    monkeypatch.setattr(walsync, "_datasync", slow)
    store = open_store(f"sqlite:///{tmp_path / 'j.db'}?synchronous=FULL")
    client = Client(store, make_plugins([testjobs]))
    threads = [
        threading.Thread(target=lambda: [client.submit("noop", {}) for _ in range(20)])
        for _ in range(8)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert client.counts()["pending"] == 160
        assert 0 < len(syncs) < 160  # fewer syncs than commits: they were shared
    finally:
        store.close()


def test_a_failed_sync_is_a_store_error_and_later_calls_fail_too(tmp_path, monkeypatch):
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    store = open_store(f"sqlite:///{tmp_path / 'j.db'}?synchronous=FULL")
    monkeypatch.setattr(walsync, "_datasync", broken)
    client = Client(store, make_plugins([testjobs]))
    try:
        with pytest.raises(StoreError, match="could not sync"):
            client.submit("noop", {})
        with pytest.raises(StoreError, match="could not sync"):
            client.submit("noop", {})  # durability is not promised again after a failure
    finally:
        monkeypatch.setattr(walsync, "_datasync", os.fsync)
        store.close()


def test_the_worker_announces_an_end_only_after_a_sync_that_covers_it(tmp_path, monkeypatch):
    """Each sync records which jobs were completed when it began; every ``job_finished`` must
    come after a finished sync whose record holds its job."""
    db = tmp_path / "j.db"
    events: list[tuple[str, object]] = []
    lock = threading.Lock()
    real = walsync._datasync
    pause = threading.Event()

    def recording(fd: int) -> None:
        with sqlite3.connect(db) as reader:
            done = {
                r[0] for r in reader.execute("SELECT job_id FROM jobs WHERE status='completed'")
            }
        pause.wait(0.2)  # a slow disk: without the wait, hooks would overtake the sync
        real(fd)
        with lock:
            events.append(("synced", frozenset(done)))

    class Observer:
        @hookimpl
        def job_finished(self, job):
            with lock:
                events.append(("announced", job.job_id))

    plugins = make_plugins([testjobs, Observer()])
    with open_store(f"sqlite:///{db}") as submitting:  # NORMAL: its commits need no sync
        ids = [Client(submitting, plugins).submit("noop", {}).job_id for _ in range(30)]
    store = open_store(f"sqlite:///{db}?synchronous=FULL")
    monkeypatch.setattr(walsync, "_datasync", recording)
    try:
        worker = Worker(store, plugins, Settings(store=store.url, concurrency=4), burst=True)
        asyncio.run(worker.run())
        assert all(store.get_job(i).status is JobStatus.COMPLETED for i in ids)
    finally:
        store.close()
    announced = [job_id for kind, job_id in events if kind == "announced"]
    assert sorted(announced) == sorted(ids)
    durable: set[str] = set()
    for kind, what in events:
        if kind == "synced":
            durable |= what  # type: ignore[arg-type]
        else:
            assert what in durable, f"{what} announced before a sync covered its end"


def test_closing_the_store_syncs_what_the_worker_wrote_last(tmp_path, monkeypatch):
    synced = threading.Event()
    real = walsync._datasync

    def recording(fd: int) -> None:
        threading.Event().wait(0.2)  # a slow disk: the claim's sync is still running at close
        real(fd)
        synced.set()

    store = open_store(f"sqlite:///{tmp_path / 'j.db'}?synchronous=FULL")
    monkeypatch.setattr(walsync, "_datasync", recording)
    job_id = Client(store, make_plugins([testjobs])).submit("noop", {}).job_id
    synced.clear()
    claimed = store.claim(Claim("w", 30.0, 1, ["noop"]), utcnow())
    assert [j.job_id for j in claimed] == [job_id]
    point = store.sync_point()  # the claim returned before its sync
    assert point is not None
    store.close()
    assert synced.is_set() and point.done() and point.exception() is None


def test_a_relative_path_still_finds_its_wal_after_a_chdir(tmp_path, monkeypatch):
    synced: list[int] = []
    real = walsync._datasync
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def recording(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(walsync, "_datasync", recording)
    monkeypatch.setattr(os, "sync", lambda: synced.append(-1))  # the fallback must not run
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///j.db?synchronous=FULL")
    try:
        monkeypatch.chdir(elsewhere)
        Client(store, make_plugins([testjobs])).submit("noop", {})
        assert synced and set(synced) == {os.stat(tmp_path / "j.db-wal").st_ino}
    finally:
        store.close()
