"""Documents written by the old system (docs/legacy-schema.md), inserted raw with pymongo into
``event_jobs``/``event_batches`` and ``jobs``/``batches``: the MongoDB store claims and finishes
them, and every document it writes back still passes the old readers' rules
(:func:`legacy_problems`)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker import errors
from jobworker.model import (
    LEGACY_RESULT_KEYS,
    Job,
    JobError,
    JobParameters,
    JobProgress,
    LogEntry,
    LogLevel,
    normalise_results,
    utcnow,
)
from jobworker.store import Claim, Outcome, open_store
from procs import child_env

pytestmark = [
    pytest.mark.mongo,
    pytest.mark.skipif(not os.environ.get("MONGO_URI"), reason="MONGO_URI not set"),
]

STATUSES = {"pending", "processing", "completed", "failed"}
LEVELS = {"debug", "info", "warning", "error", "critical"}
NAMED_PARAMETERS = {
    "event": (str, type(None)),
    "session": (str, type(None)),
    "url": (str, type(None)),
    "filename": (str, type(None)),
    "track": (str, type(None)),
    "day": (str, type(None)),
    "starttime": (str, type(None)),
    "endtime": (str, type(None)),
    "speakers": (list,),
    "video_url": (str, type(None)),
    "attachments_url": (str, type(None)),
    "source_language": (str, type(None)),
    "target_language": (str, type(None)),
    "use_cache": (bool,),
    "extraction_method": (str, type(None)),
    "template": (str, type(None)),
    "context": (dict, type(None)),
    "include_images": (bool,),
    "force_refresh": (bool,),
    "file_hash": (str, type(None)),
    "webhook": (dict, type(None)),
}
RESULT_TYPES = {
    k: (list,)
    if k in ("assets", "page_texts")
    else (dict, type(None))
    if k in ("context", "structured_data")
    else (str, type(None))
    for k in LEGACY_RESULT_KEYS
}


def legacy_problems(doc: dict) -> list[str]:
    """What the old ``Job.from_dict`` readers would reject or misread in a job document."""
    p: list[str] = []

    def need(key, types, where=doc, label=""):
        if key not in where:
            p.append(f"{label}{key} missing")
        elif not isinstance(where[key], types):
            p.append(f"{label}{key} is {type(where[key]).__name__}")

    def maybe(key, types):
        if key in doc:
            need(key, types)

    if doc.get("status") not in STATUSES:
        p.append(f"status {doc.get('status')!r}")
    need("job_id", str)
    maybe("job_type", str)
    maybe("job_name", str)
    need("created_at", datetime)
    need("updated_at", datetime)
    for key in ("processing_started_at", "completed_at", "started_at"):
        maybe(key, datetime)
    need("archived", bool)
    maybe("user_id", str)
    maybe("batch_id", str)
    need("parameters", dict)
    # The old JobParameters.from_dict reads named keys with get(key, default) and moves unknown
    # keys to extra (legacy-schema.md, section 2): a missing key is its default. Session jobs
    # (dispatched without a type) are written in the full legacy shape; other types keep their
    # own parameters, and any named key present must have the old type.
    session = doc.get("job_type") in (None, "", "session")
    for key, types in NAMED_PARAMETERS.items():
        if session or key in doc.get("parameters", {}):
            need(key, types, doc.get("parameters", {}), "parameters.")
    if "extra" in doc.get("parameters", {}):
        need("extra", dict, doc["parameters"], "parameters.")
    need("access_control", dict)
    ac = doc.get("access_control") or {}
    if ac.get("visibility") not in ("private", "public"):
        p.append("access_control.visibility")
    for key in ("read_access", "write_access", "admin_access"):
        if not (isinstance(ac.get(key), list) and all(isinstance(u, str) for u in ac[key])):
            p.append(f"access_control.{key}")
    if doc.get("progress") is not None:
        prog = doc["progress"]
        need("step", str, prog, "progress.")
        percent = prog.get("percent")
        if type(percent) is not int or not 0 <= percent <= 100:
            p.append(f"progress.percent {percent!r}")
        if not isinstance(prog.get("message"), (str, type(None))):
            p.append("progress.message")
    if doc.get("results") is not None:
        if not isinstance(doc["results"], dict):
            p.append("results not an object")
        else:
            for key, types in RESULT_TYPES.items():
                if key in doc["results"] and not isinstance(doc["results"][key], types):
                    p.append(f"results.{key} is {type(doc['results'][key]).__name__}")
    if doc.get("error") is not None:
        err = doc["error"]
        need("code", str, err, "error.")
        need("message", str, err, "error.")
        if not isinstance(err.get("details"), (dict, type(None))):
            p.append("error.details")
    for entry in doc.get("logs", []):
        if not (
            isinstance(entry.get("timestamp"), datetime)
            and entry.get("level") in LEVELS
            and isinstance(entry.get("message"), str)
        ):
            p.append(f"log entry {entry!r}")
    if doc.get("status") in ("completed", "failed"):
        need("completed_at", datetime)
    if doc.get("status") == "failed":
        need("error", dict)
    if doc.get("status") == "processing":
        need("processing_started_at", datetime)
    return p


def batch_problems(doc: dict) -> list[str]:
    p = []
    for key in ("batch_id", "batch_name", "status"):
        if not isinstance(doc.get(key), str):
            p.append(key)
    for key in ("total_jobs", "completed_jobs", "failed_jobs", "pending_jobs", "processing_jobs"):
        if type(doc.get(key)) is not int or doc[key] < 0:
            p.append(f"{key} {doc.get(key)!r}")
    for key in ("created_at", "updated_at"):
        if not isinstance(doc.get(key), datetime):
            p.append(key)
    if doc.get("status") == "completed" and not isinstance(doc.get("completed_at"), datetime):
        p.append("completed_at")
    if not (isinstance(doc.get("archived"), bool) and isinstance(doc.get("isActive"), bool)):
        p.append("archived/isActive")
    return p


# -- legacy documents (legacy-schema.md) -----------------------------------------------------

T0 = datetime(2025, 2, 20, 8, 0, tzinfo=timezone.utc)


def params(**values) -> dict:
    """All named legacy keys with their defaults, as the old ``to_dict`` writes them."""
    out = {
        "event": None,
        "session": None,
        "url": None,
        "filename": None,
        "track": None,
        "day": None,
        "starttime": None,
        "endtime": None,
        "speakers": [],
        "video_url": None,
        "attachments_url": None,
        "source_language": "en",
        "target_language": "de",
        "use_cache": True,
        "extraction_method": None,
        "template": None,
        "context": None,
        "include_images": False,
        "force_refresh": False,
        "file_hash": None,
        "webhook": None,
    }
    out.update(values)
    return out


def access(user=None) -> dict:
    users = [user] if user else []
    return {
        "visibility": "private",
        "read_access": list(users),
        "write_access": list(users),
        "admin_access": list(users),
    }


def old_session_job(batch_id: str) -> dict:
    """Pre-2025-03-03: no job_type, started_at, no parameters.extra."""
    return {
        "job_id": f"job-{uuid.uuid4()}",
        "job_name": "FOSDEM - Main - Keynote",
        "status": "pending",
        "created_at": T0,
        "updated_at": T0,
        "started_at": T0,
        "parameters": params(
            event="FOSDEM",
            session="Keynote",
            track="Main",
            url="https://fosdem.org/s/keynote",
            filename="keynote",
            speakers=["Ada"],
        ),
        "archived": False,
        "access_control": access(),
        "batch_id": batch_id,
    }


def session_job_empty_type(batch_id: str) -> dict:
    """job_type "", nested extra.extra (2025-08..2026-04 re-saves), webhook in extra, logs."""
    return {
        "job_id": f"job-{uuid.uuid4()}",
        "job_type": "",
        "job_name": "Conf - Talk",
        "status": "pending",
        "created_at": T0 + timedelta(minutes=1),
        "updated_at": T0 + timedelta(minutes=1),
        "parameters": params(
            event="Conf",
            session="Talk",
            extra={
                "create_archive": False,
                "webhook": {"url": "https://client.example/hook", "token": "t0k", "jobId": "ext-7"},
                "extra": {"container_selector": "#main", "extra": {"deep": True}},
            },
        ),
        "archived": False,
        "user_id": "u1",
        "access_control": access("u1"),
        "batch_id": batch_id,
        "logs": [
            {"timestamp": T0, "level": "info", "message": "Job erstellt"},
            {"timestamp": T0, "level": "warning", "message": "Cache leer"},
        ],
    }


def undefined_batch_job() -> dict:
    return {
        "job_id": f"job-{uuid.uuid4()}",
        "status": "pending",
        "created_at": T0 + timedelta(minutes=2),
        "updated_at": T0 + timedelta(minutes=2),
        "started_at": T0 + timedelta(minutes=2),
        "batch_id": "undefined",
        "parameters": params(event="E", session="S"),
        "archived": False,
        "access_control": access(),
    }


def pdf_job(status="pending") -> dict:
    """The full pdf example of legacy-schema.md (pending, or completed as shown there)."""
    doc = {
        "job_id": f"job-{uuid.uuid4()}",
        "job_type": "pdf",
        "status": status,
        "created_at": datetime(2026, 5, 2, 9, 14, 3, 120000, tzinfo=timezone.utc),
        "updated_at": datetime(2026, 5, 2, 9, 14, 41, 902000, tzinfo=timezone.utc),
        "parameters": params(
            filename="/srv/app/cache/uploads/upload_5b1e.pdf",
            target_language=None,
            extraction_method="native",
            file_hash="9e107d9d",
            webhook={"url": "https://client.example/hook", "token": "s3cr3t", "jobId": "ext-42"},
            extra={"page_start": 1, "page_end": 3},
        ),
        "archived": False,
        "access_control": access(),
        "logs": [
            {
                "timestamp": datetime(2026, 5, 2, 9, 14, 5, 1000, tzinfo=timezone.utc),
                "level": "info",
                "message": "Job-Verarbeitung gestartet",
            }
        ],
    }
    if status == "completed":
        doc.update(
            processing_started_at=datetime(2026, 5, 2, 9, 14, 40, 10000, tzinfo=timezone.utc),
            progress={"step": "completed", "percent": 100, "message": "Verarbeitung abgeschlossen"},
            results=normalise_results(
                {
                    "structured_data": {
                        "status": "success",
                        "request": {},
                        "process": {},
                        "error": None,
                        "data": {"extracted_text": "...", "metadata": {}},
                    },
                    "target_dir": "<process_dir>",
                    "page_texts": ["<process_dir>/page_001.txt"],
                    "asset_dir": "<process_dir>",
                }
            ),
            completed_at=datetime(2026, 5, 2, 9, 14, 41, 902000, tzinfo=timezone.utc),
        )
    return doc


def legacy_batch(batch_id: str, total: int) -> dict:
    return {
        "batch_id": batch_id,
        "batch_name": "Konferenz 2025",
        "status": "processing",
        "created_at": T0,
        "updated_at": T0,
        "total_jobs": total,
        "completed_jobs": 0,
        "failed_jobs": 0,
        "pending_jobs": 0,
        "processing_jobs": 0,
        "archived": False,
        "isActive": True,
        "user_id": "u1",
        "access_control": access("u1"),
    }


@pytest.fixture(params=["legacy", "generic"])
def legacy_store(request):
    """A store on ``event_jobs``/``event_batches`` (legacy) or ``jobs``/``batches``."""
    parts = urlsplit(os.environ["MONGO_URI"])
    url = urlunsplit(
        parts._replace(
            path=f"/jwlegacy_{uuid.uuid4().hex[:12]}", query=f"collections={request.param}"
        )
    )
    store = open_store(url)
    yield store
    store.drop_database()
    store.close()


def raw(store, job_id):
    return store.jobs.find_one({"job_id": job_id}, {"_id": 0})


def claim(store, types, worker="w1", limit=10):
    return store.claim(Claim(worker, 30, limit, types=types), utcnow())


def test_legacy_jobs_are_claimed_finished_and_stay_readable(legacy_store):
    store = legacy_store
    batch_id = "batch-legacy-custom-id"
    old, empty, undefined = (
        old_session_job(batch_id),
        session_job_empty_type(batch_id),
        undefined_batch_job(),
    )
    pdf = pdf_job()
    # Inserted exactly as the old system wrote them, bypassing jobworker.
    store.batches.insert_one(legacy_batch(batch_id, 2))
    store.jobs.insert_many([dict(d) for d in (old, empty, undefined, pdf)])
    assert store.jobs.name == ("event_jobs" if "collections=legacy" in store.url else "jobs")

    got = claim(store, ["session"])
    assert [j.job_id for j in got] == [old["job_id"], empty["job_id"], undefined["job_id"]]
    assert all(j.job_type == "session" and j.attempts == 1 for j in got)
    assert got[1].parameters.extra == {
        "create_archive": False,
        "container_selector": "#main",
        "deep": True,
        "webhook": empty["parameters"]["extra"]["webhook"],
    }
    assert got[1].external_id == "ext-7"
    assert got[2].batch_id is None  # "undefined" is no batch
    for j in got:
        doc = raw(store, j.job_id)
        assert legacy_problems(doc) == [], doc
        assert doc["status"] == "processing" and doc["progress"]["percent"] == 0
    # The old shapes stay as they were: no job_type added, started_at and "undefined" kept.
    assert "job_type" not in raw(store, old["job_id"])
    assert raw(store, empty["job_id"])["job_type"] == ""
    assert raw(store, undefined["job_id"])["batch_id"] == "undefined"
    assert raw(store, old["job_id"])["started_at"] == T0
    assert raw(store, empty["job_id"])["parameters"] == empty["parameters"]

    store.append_logs([(empty["job_id"], LogEntry(utcnow(), LogLevel.INFO, "jobworker"))])
    store.save_progress(
        "w1", {empty["job_id"]: JobProgress("processing", 150, "clamped")}, utcnow()
    )
    assert raw(store, empty["job_id"])["progress"]["percent"] == 100

    results = normalise_results({"markdown_content": "# Keynote", "assets": ["a.png"]})
    store.finish(
        [
            Outcome(old["job_id"], "w1", "completed", results=results),
            Outcome(
                empty["job_id"],
                "w1",
                "failed",
                error=JobError("ValueError", "kaputt", {"traceback": "...", "duration_ms": 5}),
            ),
            Outcome(undefined["job_id"], "w1", "completed", results=results),
        ],
        utcnow(),
    )
    for job_id in (old["job_id"], empty["job_id"], undefined["job_id"]):
        assert legacy_problems(raw(store, job_id)) == [], raw(store, job_id)
    done = raw(store, old["job_id"])
    assert done["status"] == "completed" and done["results"] == results
    assert done["progress"] == {"step": "completed", "percent": 100, "message": None}
    failed = raw(store, empty["job_id"])
    assert failed["error"]["code"] == "ValueError"
    assert (
        failed["progress"]["step"] == "error" and failed["progress"]["percent"] == 100
    )  # the last percent stays
    assert [e["message"] for e in failed["logs"]] == ["Job erstellt", "Cache leer", "jobworker"]

    batch = store.batches.find_one({"batch_id": batch_id}, {"_id": 0})
    assert batch_problems(batch) == [], batch
    assert (batch["completed_jobs"], batch["failed_jobs"], batch["status"]) == (1, 1, "completed")
    assert (batch["pending_jobs"], batch["processing_jobs"]) == (0, 0)
    assert batch["isActive"] is True and batch["user_id"] == "u1"

    [p] = claim(store, ["pdf"])
    assert p.parameters.values["filename"].endswith(".pdf")
    assert p.parameters.extra == {"page_start": 1, "page_end": 3}
    store.finish(
        [
            Outcome(
                p.job_id, "w1", "completed", results=normalise_results({"page_texts": ["p1.txt"]})
            )
        ],
        utcnow(),
    )
    assert legacy_problems(raw(store, p.job_id)) == []
    assert store.count_by_status() == {"pending": 0, "processing": 0, "completed": 3, "failed": 1}


def test_completed_pdf_example_reads_back_unchanged(legacy_store):
    store = legacy_store
    doc = pdf_job("completed")
    store.jobs.insert_one(dict(doc))
    assert legacy_problems(raw(store, doc["job_id"])) == []
    job = store.get_job(doc["job_id"])
    assert job.status.value == "completed" and job.job_type == "pdf"
    assert job.results == doc["results"]
    assert job.progress.percent == 100 and job.external_id == "ext-42"
    assert [e.message for e in job.logs] == ["Job-Verarbeitung gestartet"]
    assert store.list_jobs(job_type="pdf")[0].job_id == doc["job_id"]
    assert store.retry(doc["job_id"], utcnow()) is None  # only failed jobs are retried
    assert raw(store, doc["job_id"]) == doc


def test_legacy_failed_job_retried_and_processed_again(legacy_store):
    store = legacy_store
    doc = old_session_job("batch-x")
    doc.pop("batch_id")
    doc.update(
        status="failed",
        completed_at=T0,
        progress={"step": "error", "percent": 0, "message": "timeout"},
        error={
            "code": "FORCED_FAILURE",
            "message": "failed by an operator",
            "details": {"forced_at": "2025-03-05T10:00:00", "reason": "stuck"},
        },
    )
    store.jobs.insert_one(dict(doc))
    again = store.retry(doc["job_id"], utcnow())
    assert again.status.value == "pending" and again.error is None
    after = raw(store, doc["job_id"])
    assert legacy_problems(after) == [] and "error" not in after and "completed_at" not in after
    [j] = claim(store, ["session"])
    store.finish([Outcome(j.job_id, "w1", "completed", results=normalise_results({}))], utcnow())
    assert legacy_problems(raw(store, j.job_id)) == []


def test_cancel_and_lease_recovery_write_only_legacy_statuses(legacy_store):
    store = legacy_store
    a, b = old_session_job("batch-y"), undefined_batch_job()
    store.batches.insert_one(legacy_batch("batch-y", 1))
    store.jobs.insert_many([dict(a), dict(b)])
    t = store.cancel(a["job_id"], utcnow())
    assert t.job.error.code == errors.CANCELLED and t.batch_finished is not None
    cancelled = raw(store, a["job_id"])
    assert cancelled["status"] == "failed" and legacy_problems(cancelled) == []
    assert batch_problems(store.batches.find_one({"batch_id": "batch-y"})) == []
    [j] = store.claim(Claim("dead", 1, 1, types=["session"]), utcnow())
    [t] = store.recover_expired(utcnow() + timedelta(seconds=5), backoff=0)
    assert t.job.status.value == "pending" and t.job.error.code == errors.WORKER_LOST
    assert legacy_problems(raw(store, j.job_id)) == []


def test_legacy_jobs_are_not_starved_by_new_ones(legacy_store):
    store = legacy_store
    new = Job("session", JobParameters.from_dict({"event": "N", "session": "N"}))
    store.enqueue([new])
    legacy = session_job_empty_type("batch-z")  # older, and without priority/available_at
    store.jobs.insert_one(dict(legacy))
    assert [j.job_id for j in claim(store, ["session"], limit=1)] == [legacy["job_id"]]
    assert [j.job_id for j in claim(store, None, limit=1)] == [new.job_id]


def test_orphaned_legacy_processing_job_is_reclaimed_once_stale(legacy_store):
    """A job the old system left in processing (no lease) may still run there while it is
    being updated: jobworker leaves it alone for ``orphan_after`` (1 h) after its last update,
    then reclaims it like any expired lease. The documented hand-over works at once."""
    store = legacy_store
    doc = old_session_job("batch-o")
    now = utcnow()
    doc.update(
        status="processing",
        processing_started_at=now,
        updated_at=now,
        progress={"step": "processing", "percent": 10, "message": None},
    )
    store.jobs.insert_one(dict(doc))
    assert store.recover_expired(now + timedelta(minutes=30)) == []
    assert claim(store, ["session"]) == []
    [t] = store.recover_expired(now + timedelta(hours=2), backoff=0)
    assert t.job.status.value == "pending" and t.job.error.code == errors.WORKER_LOST
    assert "without a lease" in t.job.error.message
    assert store.jobs.find_one({"job_id": doc["job_id"]})["status"] == "pending"


def test_orphaned_legacy_processing_job_handed_over_by_hand(legacy_store):
    store = legacy_store
    doc = old_session_job("batch-o")
    doc.update(status="processing", processing_started_at=utcnow(), updated_at=utcnow())
    store.jobs.insert_one(dict(doc))
    assert store.recover_expired(utcnow()) == []
    # The documented hand-over: give it an expired lease, and the next sweep recovers it.
    store.jobs.update_one(
        {"job_id": doc["job_id"]}, {"$set": {"lease_expires_at": T0, "lease_owner": "legacy"}}
    )
    [t] = store.recover_expired(utcnow(), backoff=0)
    assert t.job.status.value == "pending"
    assert [j.job_id for j in claim(store, ["session"])] == [doc["job_id"]]


LEGACY_PLUGIN = """
import attrs
from jobworker import JobFailure, JobHandler, hookimpl


@attrs.define
class SessionParams:
    event: str | None = None
    session: str | None = None
    filename: str | None = None
    create_archive: bool = True


def session(ctx):
    p = ctx.params
    if p.event == "FAIL":
        raise JobFailure("the session page is gone", code="SESSION_FAILED")
    ctx.progress(50, "processing", p.session)
    ctx.log("info", f"session {p.event} / {p.session}")
    return {"markdown_file": f"{p.filename or 'session'}.md",
            "markdown_content": f"# {p.event} - {p.session}",
            "structured_data": {"archive": p.create_archive}}


@hookimpl
def register_job_handlers(register):
    register(JobHandler("session", session, params=SessionParams, max_attempts=1))
"""


@pytest.mark.parametrize("preset", ["legacy", "generic"])
def test_legacy_collections_processed_by_a_real_worker(preset, tmp_path):
    import subprocess
    import sys

    (tmp_path / "legacy_types.py").write_text(LEGACY_PLUGIN)
    parts = urlsplit(os.environ["MONGO_URI"])
    url = urlunsplit(
        parts._replace(path=f"/jwlegacy_{uuid.uuid4().hex[:12]}", query=f"collections={preset}")
    )
    store = open_store(url)
    try:
        batch_id = f"batch-{uuid.uuid4()}"
        old, empty = old_session_job(batch_id), session_job_empty_type(batch_id)
        failing = old_session_job(batch_id)
        failing["parameters"]["event"] = "FAIL"
        undefined = undefined_batch_job()
        store.batches.insert_one(legacy_batch(batch_id, 3))
        store.jobs.insert_many([dict(d) for d in (old, empty, failing, undefined)])
        env = child_env(tmp_path)
        worker = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobworker",
                "--store",
                url,
                "--plugin",
                "legacy_types",
                "run",
                "--burst",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr[-2000:]

        docs = {d["job_id"]: d for d in store.jobs.find({}, {"_id": 0})}
        for doc in docs.values():
            assert legacy_problems(doc) == [], doc
        assert [docs[j["job_id"]]["status"] for j in (old, empty, failing, undefined)] == [
            "completed",
            "completed",
            "failed",
            "completed",
        ]
        assert docs[empty["job_id"]]["results"]["structured_data"] == {"archive": False}
        assert docs[old["job_id"]]["results"]["markdown_file"] == "keynote.md"
        assert set(docs[old["job_id"]]["results"]) >= set(LEGACY_RESULT_KEYS)
        assert docs[failing["job_id"]]["error"]["code"] == "SESSION_FAILED"
        assert "job_type" not in docs[old["job_id"]] and docs[empty["job_id"]]["job_type"] == ""
        assert docs[undefined["job_id"]]["batch_id"] == "undefined"
        assert any("session Conf / Talk" in e["message"] for e in docs[empty["job_id"]]["logs"])
        batch = store.batches.find_one({"batch_id": batch_id}, {"_id": 0})
        assert batch_problems(batch) == [], batch
        assert (
            batch["completed_jobs"],
            batch["failed_jobs"],
            batch["pending_jobs"],
            batch["processing_jobs"],
            batch["status"],
        ) == (2, 1, 0, 0, "completed")
    finally:
        store.drop_database()
        store.close()


def test_cli_import_of_extended_json_export(legacy_store, tmp_path):
    """``jobworker import`` of a ``mongoexport``-style JSONL (Extended JSON dates)."""
    import json

    from bson import json_util
    from click.testing import CliRunner
    from jobworker.cli import cli

    store = legacy_store
    doc = pdf_job("completed")
    batch = legacy_batch("batch-imported", 1)
    doc["batch_id"] = "batch-imported"
    jobs_file, batches_file = tmp_path / "jobs.jsonl", tmp_path / "batches.jsonl"
    jobs_file.write_text(json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS))
    batches_file.write_text(json_util.dumps(batch) + "\n")
    assert '"$date"' in jobs_file.read_text()
    url = store.url
    result = CliRunner().invoke(
        cli, ["--store", url, "import", str(jobs_file), "--batches", str(batches_file)]
    )
    assert result.exit_code == 0, result.output
    stored = raw(store, doc["job_id"])
    assert stored == doc and legacy_problems(stored) == []
    assert isinstance(stored["created_at"], datetime)
    assert batch_problems(store.batches.find_one({"batch_id": "batch-imported"})) == []
    assert json.loads(jobs_file.read_text())["job_id"] == doc["job_id"]
