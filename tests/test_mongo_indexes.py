"""Every MongoDB query is served by an index, and ``store init`` lives with indexes it finds.

* The whole store contract suite runs in a subprocess with a pymongo command listener that
  records every command; each query shape is checked against the indexes ``store init``
  creates by the equality-sort-range rule (``tests/support/mongo_commands.py``).
* ``store init`` on collections holding the old system's indexes (created here exactly as the
  old system did, docs/legacy-schema.md), on a non-unique ``job_id_1`` (refused, naming it), on
  the same keys under another name (reused), and on an earlier jobworker's claim indexes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner
from jobworker.cli import cli
from jobworker.model import Job, JobParameters, utcnow
from jobworker.store import Claim, StoreError, open_store
from jobworker.store.mongo.schema import BATCH_INDEXES, JOB_INDEXES, index_name
from mongo_commands import index_list, load, unserved
from pymongo import ASCENDING, DESCENDING, MongoClient

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]

TESTS = Path(__file__).resolve().parent

# Queries allowed to use an equality prefix without their range field in the index, and why.
EQUALITY_PREFIX_ENOUGH = {
    # purge (an admin command) walks finished jobs of the given statuses; an index on
    # updated_at would be rewritten on every progress save of every job.
    ("jobs", "updated_at"),
}


def indexes_for(coll: str) -> list[dict]:
    if coll.endswith("_workers"):  # the worker registry (jobworker.store.mongo.registry)
        return index_list([([("last_seen", 1)], {"name": "jobworker_seen"})])
    if coll.endswith("batches"):
        return index_list(BATCH_INDEXES)
    if coll.endswith(".chunks"):  # GridFS's own indexes
        return index_list([([("files_id", 1), ("n", 1)], {"unique": True})])
    if coll.endswith(".files"):
        return index_list([([("filename", 1), ("uploadDate", 1)], {})])
    if coll == "jobworker_limits":
        return index_list([])
    return index_list(JOB_INDEXES)


def check(shape: dict) -> str | None:
    if shape["coll"].endswith("_workers") and shape["filter"] == {}:
        return None  # listing the fleet reads every record: one per live or recent worker
    why = unserved(shape, indexes_for(shape["coll"]))
    if why and "range" in why:
        flt = shape["filter"]
        ranged = {k for k, v in flt.items() if isinstance(v, dict) and {"$lt", "$gt"} & set(v)}
        if all((shape["coll"], field) in EQUALITY_PREFIX_ENOUGH for field in ranged):
            indexes = indexes_for(shape["coll"])
            return unserved(
                {**shape, "filter": {k: v for k, v in flt.items() if k not in ranged}}, indexes
            )
    return why


def test_every_query_of_the_contract_suite_is_served_by_an_index(tmp_path):
    record = tmp_path / "commands.jsonl"
    env = {**os.environ, "JOBWORKER_RECORD_MONGO": str(record)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(TESTS / "test_store_contract.py"),
            "-k",
            "mongo",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        env=env,
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shapes = load(str(record))
    ops = {(s["op"], s["coll"]) for s in shapes}
    # The recording saw the worker's operations: claims, transitions, sweeps, counts.
    assert {("findAndModify", "jobs"), ("update", "jobs"), ("aggregate", "jobs")} <= ops
    assert any(s["op"] == "findAndModify" and s["sort"] for s in shapes)  # claims
    failures = {}
    for shape in shapes:
        why = check(shape)
        if why:
            failures.setdefault(f"{shape['op']} {shape['coll']} {sorted(shape['filter'])}", why)
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


def test_the_check_refuses_shapes_no_index_serves():
    jobs = index_list(JOB_INDEXES)
    now = utcnow()
    claim_sort = [("priority", -1), ("created_at", 1), ("_id", 1)]
    nin = {"status": "pending", "job_type": {"$nin": ["a"]}, "available_at": {"$lt": now}}
    assert unserved({"op": "findAndModify", "filter": nin, "sort": claim_sort}, jobs)
    no_type = {"idempotency_key": {"$in": ["k"]}}  # without the partial index's $type
    assert unserved({"op": "find", "filter": no_type, "sort": []}, jobs)
    with_type = {"idempotency_key": {"$in": ["k"], "$type": "string"}}
    assert unserved({"op": "find", "filter": with_type, "sort": []}, jobs) is None
    whole = {"op": "aggregate", "filter": {}, "sort": []}
    assert unserved(whole, jobs)
    open_in = {"status": "pending", "job_type": {"$in": ["a", "b"]}, "available_at": {"$lt": now}}
    assert unserved({"op": "findAndModify", "filter": open_in, "sort": claim_sort}, jobs) is None


# -- store init beside indexes that already exist -----------------------------------------


def fresh_url(query: str = "") -> str:
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwidx_{uuid.uuid4().hex[:12]}", query=query))


@pytest.fixture
def url_and_db():
    url = fresh_url()
    client: MongoClient = MongoClient(os.environ["MONGO_URI"])
    db = client[urlsplit(url).path.lstrip("/")]
    yield url, db
    client.drop_database(db.name)
    client.close()


def legacy_indexes(db, jobs: str, batches: str, created: int) -> None:
    """The old system's indexes, created the way its repository constructors did."""
    db[jobs].create_index("job_id", unique=True)
    db[jobs].create_index("status")
    db[jobs].create_index("batch_id")
    db[jobs].create_index([("created_at", created)])
    db[batches].create_index("batch_id", unique=True)
    db[batches].create_index("status")
    db[batches].create_index([("created_at", created)])
    if created == ASCENDING:  # the legacy generation also indexed user_id
        db[jobs].create_index("user_id")
        db[batches].create_index("user_id")


@pytest.mark.parametrize(
    ("preset", "jobs", "batches", "created"),
    [
        ("legacy", "event_jobs", "event_batches", ASCENDING),
        ("generic", "jobs", "batches", DESCENDING),
    ],
)
def test_store_init_beside_the_old_systems_indexes(url_and_db, preset, jobs, batches, created):
    url, db = url_and_db
    legacy_indexes(db, jobs, batches, created)
    before = set(db[jobs].index_information()) | {f"b:{n}" for n in db[batches].index_information()}
    for _ in range(2):
        result = CliRunner().invoke(
            cli, ["--store", f"{url}?collections={preset}", "store", "init"]
        )
        assert result.exit_code == 0, result.output
    after = set(db[jobs].index_information()) | {f"b:{n}" for n in db[batches].index_information()}
    assert before <= after  # the old system's indexes are all kept
    assert db[jobs].index_information()["job_id_1"]["unique"] is True
    wanted = {index_name(k, o) for k, o in JOB_INDEXES} | {
        f"b:{index_name(k, o)}" for k, o in BATCH_INDEXES
    }
    assert wanted <= after
    store = open_store(f"{url}?collections={preset}")
    try:
        [j] = store.enqueue([Job("echo", JobParameters.from_dict({}))])
        assert [c.job_id for c in store.claim(Claim("w", 30, 5), utcnow())] == [j.job_id]
        with pytest.raises(StoreError):
            store.enqueue([Job("echo", JobParameters.from_dict({}), job_id=j.job_id)])
    finally:
        store.close()


def test_non_unique_job_id_index_is_refused_naming_it(url_and_db):
    url, db = url_and_db
    db["jobs"].create_index("job_id")  # an old deployment's index without unique
    result = CliRunner().invoke(cli, ["--store", url, "store", "init"])
    assert result.exit_code != 0
    assert "job_id_1" in result.output and "not unique" in result.output
    with pytest.raises(StoreError, match="job_id_1"):
        open_store(url)
    assert set(db["jobs"].index_information()) == {"_id_", "job_id_1"}  # nothing half-made


def test_same_keys_under_another_name_are_reused(url_and_db):
    url, db = url_and_db
    db["jobs"].create_index("job_id", unique=True, name="uniq_job_id")
    db["jobs"].create_index([("status", 1), ("lease_expires_at", 1)], name="dba_lease")
    store = open_store(url)
    try:
        names = store.create_indexes()
    finally:
        store.close()
    info = db["jobs"].index_information()
    assert "uniq_job_id" in names and "dba_lease" in names
    assert "job_id_1" not in info and "jobworker_lease" not in info


def test_an_earlier_versions_claim_indexes_are_replaced(url_and_db):
    url, db = url_and_db
    db["jobs"].create_index(
        [("status", 1), ("job_type", 1), ("priority", -1), ("created_at", 1), ("_id", 1)],
        name="jobworker_claim_typed",
    )
    db["jobs"].create_index(
        [("status", 1), ("priority", -1), ("created_at", 1), ("_id", 1)],
        name="jobworker_claim_any",
    )
    open_store(url).close()
    info = db["jobs"].index_information()
    assert "jobworker_claim_typed" not in info and "jobworker_claim_any" not in info
    assert info["jobworker_claim_by_type"]["key"][-1] == ("available_at", 1)


def test_an_index_of_ours_with_other_keys_is_refused_naming_it(url_and_db):
    url, db = url_and_db
    db["jobs"].create_index([("status", 1)], name="jobworker_lease")
    with pytest.raises(StoreError, match="jobworker_lease"):
        open_store(url)


def test_docs_index_table_matches_what_store_init_creates(url_and_db):
    url, db = url_and_db
    text = (TESTS.parent / "docs" / "mongodb.md").read_text()
    table = text.split("<!-- mongo-indexes -->")[1].split("<!-- /mongo-indexes -->")[0]
    documented = set()
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        documented.add((cells[0], cells[1].strip("`")))
    open_store(url).close()
    created = {
        (coll, n)
        for coll in ("jobs", "batches", "jobs_workers")
        for n in db[coll].index_information()
        if n != "_id_"
    }
    assert documented == created
