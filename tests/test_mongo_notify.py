"""Change-stream wake-ups: filtered by the worker's types, coalesced, cancels apart from work.

The wire test server has no change streams, so the stream itself cannot run here: its filter
is evaluated by the test server's aggregation on event-shaped documents (the same ``$match`` a
real ``$changeStream`` pipeline applies), and the notifier's thread is fed a scripted stream.
"""

from __future__ import annotations

import os
import select
import threading
import time
import uuid

import pytest
from jobworker.store.mongo.notify import CANCEL, WORK, ChangeStreamNotifier, kind_of, wake_pipeline
from jobworker.store.mongo.queries import type_values
from pymongo import MongoClient


def insert(job_type):
    return {"operationType": "insert", "fullDocument": {"job_type": job_type, "status": "pending"}}


def update(**fields):
    return {"operationType": "update", "updateDescription": {"updatedFields": fields}}


EVENTS = {
    "insert pdf": insert("pdf"),
    "insert audio": insert("audio"),
    "insert legacy session": insert(""),
    "retry to pending": update(status="pending", updated_at=1),
    "cancel request": update(cancel_requested=True, updated_at=1),
    "heartbeat": update(lease_expires_at=1, heartbeat_at=1),
    "progress": update(progress={"percent": 5}, updated_at=1),
    "completed": update(status="completed", updated_at=1),
}


@pytest.mark.mongo
@pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set")
def test_the_filter_wakes_a_typed_worker_only_for_its_work_and_cancels():
    client: MongoClient = MongoClient(os.environ["MONGO_URI"])
    db = client[f"jwnotify_{uuid.uuid4().hex[:12]}"]
    try:
        db.events.insert_many([{"name": name, **event} for name, event in EVENTS.items()])

        def matched(types):
            values = None if types is None else type_values(types)
            return {d["name"] for d in db.events.aggregate(wake_pipeline(values))}

        always = {"retry to pending", "cancel request"}
        assert matched(["pdf"]) == {"insert pdf"} | always
        assert matched(["session"]) == {"insert legacy session"} | always
        everything = {"insert pdf", "insert audio", "insert legacy session"} | always
        assert matched(None) == everything
    finally:
        client.drop_database(db.name)
        client.close()


class ScriptedStream:
    """Stands in for a change stream on this server without one: hands out events."""

    def __init__(self, events):
        self.events = list(events)
        self.lock = threading.Lock()

    def try_next(self):
        with self.lock:
            if self.events:
                return self.events.pop(0)
        time.sleep(0.01)
        return None

    def close(self):
        pass


def wait_drained(stream):
    deadline = time.monotonic() + 10
    while stream.events and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)


def test_wakeups_are_coalesced_and_tell_work_from_cancels():
    stream = ScriptedStream([insert("pdf")] * 200 + [update(cancel_requested=True)] * 50)
    notifier = ChangeStreamNotifier(None, stream)  # type: ignore[arg-type]
    try:
        wait_drained(stream)
        pending = os.read(notifier.fileno(), 4096)
        assert sorted(pending) == sorted(b"wc")  # 250 events, one byte per kind
        os.write(notifier._write_fd, pending)  # put them back for drain()
        assert notifier.drain() == {WORK, CANCEL}
        assert notifier.drain() == set()
        stream.events += [insert("pdf")] * 30
        wait_drained(stream)
        assert select.select([notifier.fileno()], [], [], 1)[0]
        assert notifier.drain() == {WORK}  # only work: a busy worker need not heartbeat
    finally:
        notifier.close()


def test_event_kinds():
    assert kind_of(insert("pdf")) == WORK
    assert kind_of(update(status="pending")) == WORK
    assert kind_of(update(cancel_requested=True)) == CANCEL
    assert kind_of(update(cancel_requested=True, status="pending")) == WORK


def test_the_store_forgets_the_channels_closed_before_it(monkeypatch, tmp_path):
    """A worker reopens its wake-up channel at each plugin reload that changes its types: the
    store keeps only the open ones to close with it, not one more per reload."""
    if not os.environ.get("MONGO_URI"):
        pytest.skip("MONGO_URI not set (scripts/test.sh starts the wire test server)")
    from storefactory import make_store

    opened: list[ChangeStreamNotifier] = []

    def scripted(collection, max_await_ms=500, pipeline=None):
        opened.append(ChangeStreamNotifier(collection, ScriptedStream([]), pipeline=pipeline))
        return opened[-1]

    monkeypatch.setattr(ChangeStreamNotifier, "open", scripted)
    store = make_store("mongo", tmp_path)
    try:
        for types in (["a"], ["a", "b"], ["b"]):
            store.notifier(types).close()
        kept = store.notifier(["c"])
        watcher = store.watcher()
        assert store._notifiers == [kept, watcher]
    finally:
        store.drop_database()
        store.close()
    assert len(opened) == 5 and all(n.closed for n in opened)
