"""MongoDB store beyond the shared contract: indexes, GridFS results, concurrency of claims,
cluster-wide limits and batch counters across many clients, capped logs, wake-ups.

Runs against the server ``MONGO_URI`` names (``scripts/mongo-wire.sh start`` or a real
MongoDB); skipped without it. The contract fixtures of ``conftest.py`` give one fresh database
per test (dropped afterwards).
"""

from __future__ import annotations

import os
import select
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import bson
import pytest
from jobworker.model import (
    Batch,
    Job,
    JobError,
    JobParameters,
    JobStatus,
    LogEntry,
    LogLevel,
    utcnow,
)
from jobworker.store import Claim, Outcome, StoreError, open_store

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]


@pytest.fixture
def backend() -> str:
    """Overrides conftest's backend list: these tests are MongoDB's own."""
    return "mongo"


def job(job_type="echo", **kw) -> Job:
    return Job(job_type, JobParameters.from_dict(kw.pop("params", {"text": "hi"})), **kw)


def claim(store, worker="w1", limit=10, lease=30, **kw):
    return store.claim(Claim(worker, lease, limit, **kw), utcnow())


def fresh_url() -> str:
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwtest_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def clients(store):
    """``clients(n)``: ``n`` more stores (own MongoClients) on the database of ``store``."""
    opened = []

    def make(n):
        parts = urlsplit(os.environ["MONGO_URI"])
        url = urlunsplit(parts._replace(path=f"/{store.database_name}"))
        opened.extend(open_store(url) for _ in range(n))
        return [store, *opened[-n:]]

    yield make
    for s in opened:
        s.close()


def run_threads(n, target):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_store_init_command_creates_every_index_idempotently():
    from click.testing import CliRunner
    from jobworker.cli import cli

    url = fresh_url() + "?collections=legacy"
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--store", url, "store", "init"])
        assert result.exit_code == 0, result.output
    store = open_store(url)
    try:
        jobs = store.jobs.index_information()
        assert store.jobs.name == "event_jobs"
        assert jobs["job_id_1"].get("unique") is True
        key = jobs["jobworker_idempotency_key"]
        assert key["unique"] is True
        assert key["partialFilterExpression"] == {"idempotency_key": {"$type": "string"}}
        assert jobs["jobworker_claim_by_type"]["key"] == [
            ("status", 1),
            ("job_type", 1),
            ("priority", -1),
            ("created_at", 1),
            ("_id", 1),
            ("available_at", 1),
        ]
        assert {
            "jobworker_claim",
            "jobworker_lease",
            "jobworker_batch",
            "jobworker_newest",
            "jobworker_available",
        } <= set(jobs)
        assert store.batches.index_information()["batch_id_1"]["unique"] is True
        # The worker registry is a collection beside the jobs, created by `store init` too.
        workers = store.registry.collection
        assert workers.name == "event_jobs_workers"
        assert workers.name in store.db.list_collection_names()
        assert sorted(store.create_indexes()) == sorted(
            n
            for n in [
                *jobs,
                *store.batches.index_information(),
                *workers.index_information(),
            ]
            if n != "_id_"
        )
        # Jobs without a key do not collide in the partial unique index.
        store.enqueue([job(), job()])
        assert len(store.list_jobs()) == 2
    finally:
        store.drop_database()
        store.close()


def test_large_results_go_to_gridfs_and_come_back(store):
    big_text = "x" * (20 * 1024 * 1024)
    pages = [f"page {i} " + "y" * 100_000 for i in range(20)]
    results = {
        "markdown_file": "out.md",
        "markdown_content": big_text,
        "page_texts": pages,
        "target_dir": "/out/job",
        "structured_data": {"pages": 20},
    }
    store.enqueue([job()])
    [j] = claim(store)
    [t] = store.finish([Outcome(j.job_id, "w1", "completed", results=results)], utcnow())
    assert t.job.results == results

    raw = store.jobs.find_one({"job_id": j.job_id})
    assert len(bson.encode(raw)) < 1024 * 1024
    stored = raw["results"]
    assert stored["markdown_content"] is None and stored["page_texts"] == []
    assert stored["markdown_file"] == "out.md" and stored["target_dir"] == "/out/job"
    assert stored["structured_data"] == {"pages": 20}
    ref = stored["results_ref"]
    assert ref["size"] > 20 * 1024 * 1024
    files = store.db[f"{store.jobs.name}_results.files"]
    assert files.count_documents({"_id": ref["gridfs_id"]}) == 1

    got = store.get_job(j.job_id)
    assert got.results == results
    assert store.list_jobs()[0].results["markdown_content"] == big_text

    purged = store.purge(
        before=utcnow() + __import__("datetime").timedelta(seconds=1),
        statuses=[JobStatus.COMPLETED],
    )
    assert purged.job_ids == [j.job_id]
    assert files.count_documents({}) == 0


def test_small_results_stay_inline(store):
    store.enqueue([job()])
    [j] = claim(store)
    store.finish(
        [Outcome(j.job_id, "w1", "completed", results={"markdown_content": "m"})], utcnow()
    )
    assert store.jobs.find_one({"job_id": j.job_id})["results"] == {"markdown_content": "m"}


def test_concurrent_claimers_never_share_a_job(store, clients):
    first = store
    first.enqueue([job() for _ in range(150)])
    stores = clients(4)
    got: list[list[str]] = [[] for _ in stores]

    def worker(i):
        while True:
            jobs = claim(stores[i], f"w{i}", limit=3)
            if not jobs:
                return
            got[i] += [j.job_id for j in jobs]

    run_threads(len(stores), worker)
    everything = [x for ids in got for x in ids]
    assert len(everything) == 150 and len(set(everything)) == 150
    assert first.count_by_status()["processing"] == 150


def test_cluster_limit_is_exact_with_many_concurrent_claimers(store, clients):
    first = store
    first.enqueue([job("a") for _ in range(40)])  # the a jobs are the oldest: all go for them
    first.enqueue([job("b") for _ in range(40)])
    stores = clients(5)

    def worker(i):
        while claim(stores[i], f"w{i}", limit=3, cluster_limits={"a": 4}):
            pass

    run_threads(len(stores), worker)
    assert claim(first, "late", cluster_limits={"a": 4}) == []
    processing = {
        t: first.jobs.count_documents({"status": "processing", "job_type": t}) for t in ("a", "b")
    }
    assert processing == {"a": 4, "b": 40}
    # The lock documents are free again (nobody holds a type).
    assert first.db["jobworker_limits"].count_documents({"holder": {"$ne": None}}) == 0


def test_batch_counters_exact_and_finish_reported_once_under_concurrency(store, clients):
    first = store
    batch = Batch(batch_name="many")
    first.enqueue([job() for _ in range(60)], batch)
    stores = clients(3)
    finished: list[str] = []

    def worker(i):
        while True:
            jobs = claim(stores[i], f"w{i}", limit=4)
            if not jobs:
                return
            outcomes = [
                Outcome(j.job_id, f"w{i}", "completed")
                if n % 3
                else Outcome(j.job_id, f"w{i}", "failed", error=JobError("X", "x", None))
                for n, j in enumerate(jobs)
            ]
            for t in stores[i].finish(outcomes, utcnow()):
                if t.batch_finished is not None:
                    finished.append(t.batch_finished.batch_id)

    run_threads(len(stores), worker)
    b = first.get_batch(batch.batch_id)
    counts = first.count_by_status(batch_id=batch.batch_id)
    assert (b.completed_jobs, b.failed_jobs) == (counts["completed"], counts["failed"])
    assert b.completed_jobs + b.failed_jobs == 60
    assert (b.pending_jobs, b.processing_jobs, b.status) == (0, 0, "completed")
    assert finished == [batch.batch_id]


def test_same_idempotency_key_from_many_clients_stores_one_job(clients):
    stores = clients(3)
    ids: list[str] = []

    def submit(i):
        for _ in range(5):
            [j] = stores[i].enqueue([job(idempotency_key="once")])
            ids.append(j.job_id)

    run_threads(len(stores), submit)
    assert len(set(ids)) == 1 and len(stores[0].list_jobs()) == 1


def test_failed_enqueue_leaves_nothing_behind(store):
    [existing] = store.enqueue([job()])
    batch = Batch()
    fresh = job()
    with pytest.raises(StoreError):
        store.enqueue([fresh, Job("echo", job_id=existing.job_id)], batch)
    assert store.get_job(fresh.job_id) is None
    assert store.get_batch(batch.batch_id) is None


def test_logs_pushed_capped_in_legacy_shape(store_factory):
    store = store_factory(log_cap=3)
    store.enqueue([job()])
    [j] = claim(store)
    before = store.jobs.find_one({"job_id": j.job_id})["updated_at"]
    store.append_logs([(j.job_id, LogEntry(utcnow(), LogLevel.INFO, f"a{i}")) for i in range(2)])
    store.append_logs([(j.job_id, LogEntry(utcnow(), LogLevel.WARNING, f"b{i}")) for i in range(3)])
    raw = store.jobs.find_one({"job_id": j.job_id})
    assert [(e["level"], e["message"]) for e in raw["logs"]] == [
        ("warning", "b0"),
        ("warning", "b1"),
        ("warning", "b2"),
    ]
    assert all(set(e) == {"timestamp", "level", "message"} for e in raw["logs"])
    assert raw["updated_at"] >= before
    assert store.get_job(j.job_id, with_logs=False).logs == []


def test_notifier_wakes_on_insert_or_reports_polling(store):
    from pymongo.errors import OperationFailure

    notifier = store.notifier()
    if notifier is None:
        # Only when the server really has no change streams (mongoeco, standalone mongod).
        with pytest.raises(OperationFailure):
            store.jobs.watch()
        return
    try:
        store.enqueue([job()])
        readable, _, _ = select.select([notifier], [], [], 30)
        assert readable == [notifier]
        notifier.drain()
    finally:
        notifier.close()


def test_stored_job_document_has_bson_dates_and_legacy_shape(store):
    j = job(user_id="u1", job_name="n")
    store.enqueue([j])
    raw = store.jobs.find_one({"job_id": j.job_id})
    assert raw["status"] == "pending" and raw["archived"] is False
    assert raw["created_at"].tzinfo is not None and raw["available_at"] == raw["created_at"]
    assert raw["access_control"]["visibility"] == "private"
    assert set(JobParameters.NAMED) <= set(raw["parameters"]) and "extra" in raw["parameters"]
    assert raw["logs"] == []
