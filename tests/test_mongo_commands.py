"""MongoDB commands per job in steady state, counted with pymongo's command monitoring (the
same listener as the index check): a worker processing a backlog of no-op jobs with claims in
groups stays at or under 3 commands per job, with and without a batch. The figures are in
docs/benchmarks.md (``.venv/bin/python tests/test_mongo_commands.py`` prints them)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

import testjobs
from jobworker.model import Batch
from jobworker.store.mongo import MongoStore
from jobworker.testing import WorkerHarness
from jobworker.worker import Worker
from mongo_commands import CommandRecorder

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]


def count(n: int, concurrency: int, batch: bool, tmp: Path) -> tuple[float, Counter[str]]:
    """Commands per job while one worker drains ``n`` no-op jobs; and the commands by kind."""
    recorder = CommandRecorder()
    url = f"{os.environ['MONGO_URI'].rstrip('/')}/jwcount_{uuid.uuid4().hex[:12]}"
    store = MongoStore(url, event_listeners=[recorder])
    try:
        store.init()
        with WorkerHarness(tmp, plugins=[testjobs], concurrency=concurrency) as h:
            jobs = [h.client.build_job("noop", {}) for _ in range(n)]
            store.enqueue(jobs, Batch() if batch else None)
            recorder.clear()
            asyncio.run(Worker(store, h.plugins, h.settings, burst=True).run())
        assert store.count_by_status()["completed"] == n
        kinds = Counter(f"{name} {coll}" for name, coll in recorder.names)
        return len(recorder.names) / n, kinds
    finally:
        store.drop_database()
        store.close()


@pytest.mark.parametrize("batch", [False, True], ids=["plain", "batch"])
def test_at_most_three_commands_per_job_with_grouped_claims(tmp_path, batch):
    per_job, kinds = count(160, 8, batch, tmp_path)
    assert per_job <= 3.0, kinds
    # Claims came in groups: one findAndModify per finish, not one more per claim.
    assert kinds["findAndModify jobs"] < 160 * 1.2, kinds


if __name__ == "__main__":  # the figures of docs/benchmarks.md
    print("| jobs claimed per round trip (concurrency) | batch | commands per job |")
    print("|---:|---|---:|")
    for concurrency in (1, 8):
        for batch in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                per_job, _ = count(400, concurrency, batch, Path(tmp))
            print(f"| {concurrency} | {'yes' if batch else 'no'} | {per_job:.2f} |", flush=True)
