"""The MongoDB store's own reads ignore the URL's read concern and preference (a majority read
could miss this worker's fresh claim), spilled results are read from the primary, and result
files an interrupted purge left behind are swept."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import pytest
from bson import ObjectId
from jobworker.model import Job, JobParameters, JobStatus, utcnow
from jobworker.store import Claim, Outcome
from jobworker.store.mongo import MongoStore
from pymongo import ReadPreference, monitoring

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]


class ReadConcerns(monitoring.CommandListener):
    """(command, collection, readConcern level or None) of every command sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        coll = event.command.get(event.command_name)
        level = (event.command.get("readConcern") or {}).get("level")
        self.seen.append((event.command_name, coll if isinstance(coll, str) else "", level))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def url(query: str) -> str:
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwrc_{uuid.uuid4().hex[:12]}", query=query))


@pytest.fixture
def majority_store():
    listener = ReadConcerns()
    store = MongoStore(
        url("readConcernLevel=majority&readPreference=secondaryPreferred&gridfs_threshold=1024"),
        event_listeners=[listener],
    )
    store.init()
    yield store, listener
    store.drop_database()
    store.close()


def test_own_reads_are_local_on_the_primary_users_reads_follow_the_url(majority_store):
    store, listener = majority_store
    assert store.jobs.read_concern.level == "local"
    assert store.jobs.read_preference == ReadPreference.PRIMARY
    assert store.results.db.read_preference == ReadPreference.PRIMARY
    assert store.results.db.read_concern.level == "local"
    assert store.jobs_read.read_concern.level == "majority"  # get/list follow the URL

    [j] = store.enqueue([Job("echo", JobParameters.from_dict({}))])
    listener.seen.clear()
    now = utcnow()
    [claimed] = store.claim(Claim("w1", 30, 1, cluster_limits={"echo": 5}), now)
    cancelled, lost = store.heartbeat("w1", [claimed.job_id], 30, now)
    assert (cancelled, lost) == (set(), set())
    reads = [(n, lvl) for n, coll, lvl in listener.seen if n in ("find", "aggregate")]
    assert reads and all(lvl == "local" for _, lvl in reads), reads
    listener.seen.clear()
    assert store.get_job(j.job_id) is not None
    assert ("find", "jobs", "majority") in listener.seen


def test_spilled_results_are_read_from_the_primary(majority_store):
    store, listener = majority_store
    store.enqueue([Job("echo", JobParameters.from_dict({}))])
    [j] = store.claim(Claim("w1", 30, 1), utcnow())
    results = {"markdown_content": "z" * 10_000}
    store.finish([Outcome(j.job_id, "w1", "completed", results=results)], utcnow())
    listener.seen.clear()
    assert store.get_job(j.job_id).results == results
    chunk_reads = [s for s in listener.seen if s[1] == "jobs_results.chunks"]
    assert chunk_reads and all(lvl == "local" for _, _, lvl in chunk_reads)


def test_purge_sweeps_result_files_an_interrupted_purge_left(majority_store):
    store, _ = majority_store
    store.enqueue([Job("echo", JobParameters.from_dict({})) for _ in range(2)])
    claimed = store.claim(Claim("w1", 30, 2), utcnow())
    big = {"markdown_content": "q" * 10_000}
    store.finish([Outcome(c.job_id, "w1", "completed", results=big) for c in claimed], utcnow())
    kept = store.jobs.find_one({"job_id": claimed[0].job_id})["results"]["results_ref"]["gridfs_id"]
    # An interrupted purge: the job is deleted, its file is not (uploaded two hours ago).
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    orphan = ObjectId.from_datetime(old)
    store.results.bucket.upload_from_stream_with_id(
        orphan, "job-gone.results.bson", b"x", metadata={"job_id": "job-gone"}
    )
    # A stale file of a job that exists but refers to another file (a retry's leftover).
    stale = ObjectId.from_datetime(old + timedelta(seconds=1))
    store.results.bucket.upload_from_stream_with_id(
        stale, "stale.results.bson", b"y", metadata={"job_id": claimed[0].job_id}
    )
    # A fresh orphan (an attempt still finishing) is left alone.
    fresh = store.results.bucket.upload_from_stream(
        "fresh.results.bson", b"z", metadata={"job_id": "job-finishing"}
    )
    store.purge(before=utcnow(), statuses=[JobStatus.FAILED])  # purges no job at all
    files = {f["_id"] for f in store.results.bucket_files.find({}, {"_id": 1})}
    assert orphan not in files and stale not in files
    assert kept in files and fresh in files
    assert store.get_job(claimed[0].job_id).results == big
