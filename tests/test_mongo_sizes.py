"""MongoDB's 16 MiB document limit: capped log messages, settings that cannot fit refused, and
a job whose writes can never fit failing alone (typed code) while every other job finishes,
with no log line written twice.

The wire test server does not enforce 16 MiB itself, but pymongo refuses, client side, any
write larger than the server's ``maxBsonObjectSize`` (16 MiB, which the test server reports):
the same ``DocumentTooLarge`` a real deployment raises for an oversized update.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import bson
import pytest
from jobworker import JobHandler, errors, hookimpl
from jobworker.model import JobStatus
from jobworker.store import StoreError, open_store
from jobworker.store.sizes import cut
from jobworker.testing import WorkerHarness
from jobworker.worker import Worker

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]

FLOOD_LINES = 2000
LINE = "L" * 16 * 1024  # 2,000 lines of 16 KiB: 32 MiB of logs from one job
HUGE = "E" * (17 * 1024 * 1024)  # an exception message over 16 MiB on its own


async def flood(ctx):
    for i in range(FLOOD_LINES):
        ctx.log("info", f"{i} {LINE}")
    raise RuntimeError(HUGE)


async def steady(ctx):
    for i in range(5):
        ctx.log("info", f"line {i} of {ctx.job_id}")
        await asyncio.sleep(0.01)
    return {"structured_data": {"ok": True}}


class SizePlugin:
    @hookimpl
    def register_job_handlers(self, register):
        register(JobHandler("flood", flood, backoff=0))
        register(JobHandler("steady", steady))


def mongo_url(query: str = "") -> str:
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwsize_{uuid.uuid4().hex[:12]}", query=query))


def test_a_job_too_large_to_store_fails_alone_and_no_log_line_is_written_twice(tmp_path):
    store = open_store(mongo_url())
    try:
        with WorkerHarness(tmp_path, plugins=[SizePlugin()], concurrency=4) as h:
            flooder = store.enqueue([h.client.build_job("flood", {}, max_attempts=3)])[0]
            others = store.enqueue([h.client.build_job("steady", {}) for _ in range(12)])
            worker = Worker(store, h.plugins, h.settings, burst=True)
            asyncio.run(asyncio.wait_for(worker.run(), 240))
        failed = store.get_job(flooder.job_id)
        assert failed.status is JobStatus.FAILED
        assert failed.error.code == errors.DOCUMENT_TOO_LARGE
        assert failed.attempts == 1  # not retried: the same error would not fit again
        raw = store.jobs.find_one({"job_id": flooder.job_id})
        assert len(bson.encode(raw)) < 16 * 1024 * 1024
        assert 0 < len(raw["logs"]) <= store.log_cap
        assert all(len(e["message"].encode()) <= store.log_message_max + 40 for e in raw["logs"])
        assert any("cut" in e["message"] for e in raw["logs"])
        for job in others:
            done = store.get_job(job.job_id)
            assert done.status is JobStatus.COMPLETED, done.error
            lines = Counter(e.message for e in done.logs if e.message.startswith("line "))
            assert sorted(lines) == [f"line {i} of {job.job_id}" for i in range(5)]
            assert set(lines.values()) == {1}, lines  # no duplicated log line
    finally:
        store.drop_database()
        store.close()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("gridfs_threshold=14000000", "gridfs_threshold"),
        ("gridfs_threshold=0", "gridfs_threshold"),
        ("log_cap=5000&log_message_max=4096", "log_cap"),
        ("log_message_max=10", "log_message_max"),
    ],
)
def test_settings_that_cannot_fit_in_16_mib_are_refused(query, named):
    with pytest.raises(StoreError, match=named):
        open_store(mongo_url(query))


def test_largest_threshold_that_fits_is_accepted():
    store = open_store(mongo_url("gridfs_threshold=6291456"))  # 6 MiB + 8 MiB logs + 2 MiB
    try:
        assert store.results.threshold == 6 * 1024 * 1024
    finally:
        store.drop_database()
        store.close()


def test_cut_keeps_utf8_whole_and_says_how_much_was_cut():
    assert cut("short", 64) == "short"
    text = "é" * 100  # 200 bytes
    got = cut(text, 101)
    assert got.startswith("é" * 50) and "[cut 100 bytes]" in got
    got.encode("utf-8")  # never half a character
