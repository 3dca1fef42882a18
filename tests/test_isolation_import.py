"""``jobworker import`` cannot forge jobworker's own jobs (issue 11, item 9): a ``webhook``
delivery document, or any job carrying the delivery origin field (also in the MongoDB store's
escaped spelling), is refused with one clear line and nothing of the file is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker import connect
from jobworker.store import StoreError
from jobworker.store.imported import INTERNAL_JOB_TYPES, ORIGIN_FIELDS
from jobworker.webhooks import delivery as webhooks
from procs import child_env

LEGIT = {
    "job_id": "job-legacy-ok",
    "job_type": "noop",
    "status": "pending",
    "created_at": {"$date": "2025-02-20T08:00:00Z"},
    "updated_at": {"$date": "2025-02-20T08:00:00Z"},
    "parameters": {"event": "e"},
}


def forged_delivery() -> dict:
    return {
        "job_id": "job-forged",
        "job_type": "webhook",
        "status": "pending",
        "created_at": {"$date": "2025-02-20T08:00:00Z"},
        "updated_at": {"$date": "2025-02-20T08:00:00Z"},
        "webhook_origin": "jobworker",
        "parameters": {
            "url": "http://127.0.0.1:9/hook",
            "event": "job.completed",
            "payload": {"forged": True},
            "delivery_id": "job-forged",
        },
    }


FORGERIES = {
    "internal-type": {**forged_delivery(), "webhook_origin": None},
    "internal-type-no-origin": {
        k: v for k, v in forged_delivery().items() if k != "webhook_origin"
    },
    "origin-on-another-type": {**LEGIT, "job_id": "job-o", "webhook_origin": "jobworker"},
    "origin-escaped-for-mongodb": {**LEGIT, "job_id": "job-e", "%webhook_origin": "jobworker"},
    "origin-dollar": {**LEGIT, "job_id": "job-d", "$webhook_origin": "jobworker"},
    "origin-percent-escaped": {**LEGIT, "job_id": "job-p", "%%24webhook_origin": "jobworker"},
    "the-full-delivery": forged_delivery(),
}


@pytest.fixture
def url(backend, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/jobs.db"
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwiso_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def client(url):
    import testjobs
    from jobworker.testing import make_plugins

    c = connect(url, plugins=make_plugins([testjobs]))
    yield c
    drop = getattr(c.store, "drop_database", None)
    if drop:
        drop()
    c.close()


def test_the_guard_names_what_the_webhooks_module_makes():
    assert webhooks.JOB_TYPE in INTERNAL_JOB_TYPES
    assert webhooks._ORIGIN[0] in ORIGIN_FIELDS


@pytest.mark.parametrize("kind", sorted(FORGERIES))
def test_import_refuses_forged_internal_jobs_and_imports_nothing(kind, url, client, tmp_path):
    lines = [json.dumps(LEGIT), json.dumps(FORGERIES[kind])]
    (tmp_path / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "jobworker", "--store", url, "import", "jobs.jsonl"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(),
        timeout=120,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]  # one line
    assert "job document 2" in out.stderr and "cannot be imported" in out.stderr
    assert client.list() == []  # all or nothing


def test_store_import_refuses_before_inserting_anything(client):
    with pytest.raises(StoreError, match="made by jobworker itself"):
        client.store.import_documents([LEGIT, forged_delivery()])
    assert client.list() == []
    client.store.import_documents([LEGIT])  # a legacy document still imports
    assert [j.job_id for j in client.list()] == ["job-legacy-ok"]
