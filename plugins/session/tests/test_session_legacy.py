"""Legacy session documents, inserted raw in the old shapes, processed by ``jobworker run``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker.store import open_store
from worker_plugin_session.testing import PAGE_TEXT, SLIDES, session_page, slide_deck

NAMED_NULLS = {
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
DATE = {"$date": "2025-02-20T08:00:00.000Z"}
ACCESS = {"visibility": "private", "read_access": [], "write_access": [], "admin_access": []}


def legacy_job(job_id: str, parameters: dict, **fields: object) -> dict:
    return {
        "job_id": job_id,
        "status": "pending",
        "created_at": DATE,
        "updated_at": DATE,
        "parameters": parameters,
        "archived": False,
        "access_control": ACCESS,
        **fields,
    }


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongo)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, or a fresh database on ``$MONGO_URI`` with the legacy collection names
    (``event_jobs``/``event_batches``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legacy.db'}"
    if not os.environ.get("MONGO_URI"):
        pytest.skip("MONGO_URI not set")
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(
        parts._replace(path=f"/jwsession_{uuid.uuid4().hex[:12]}", query="collections=legacy")
    )


def test_legacy_documents_and_batch_through_jobworker_run(
    tmp_path: Path, store_url: str, web: tuple[Path, str]
) -> None:
    root, base = web
    (root / "keynote.html").write_text(session_page("Keynote"))
    slide_deck(root / "deck.pdf")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "local.html").write_text(
        session_page("Local page", "Read from the input roots.")
    )
    out = tmp_path / "out"
    docs = [
        # 2025-08..2026-04 shape: job_type "", every named key, extra nested as extra.extra.
        legacy_job(
            "job-legacy-a",
            {
                **NAMED_NULLS,
                "event": "Conf 2025",
                "session": "Keynote",
                "track": "Main",
                "url": f"{base}/keynote.html",
                "speakers": ["Grace Hopper"],
                "template": "Session",
                "extra": {"extra": {"create_archive": False}},
            },
            job_type="",
            batch_id="batch-legacy",
            job_name="Conf 2025 - Main - Keynote",
        ),
        # Pre-2025-03-03 shape: no job_type, no extra, started_at.
        legacy_job(
            "job-legacy-b",
            {
                **NAMED_NULLS,
                "event": "Conf 2025",
                "session": "Slides",
                "track": "Main",
                "filename": "slides-talk",
                "attachments_url": f"{base}/deck.pdf",
            },
            batch_id="batch-legacy",
            started_at=DATE,
        ),
        # A page on a host that is not allowed: refused, so the batch has one failure.
        legacy_job(
            "job-legacy-c",
            {
                **NAMED_NULLS,
                "event": "Conf 2025",
                "session": "Remote",
                "url": "http://example.org/remote",
            },
            job_type="session",
            batch_id="batch-legacy",
        ),
        # batch_id "undefined" (old clients); a page from a local file under the input roots.
        legacy_job(
            "job-legacy-d",
            {
                **NAMED_NULLS,
                "event": "Conf 2025",
                "session": "Local",
                "url": str(tmp_path / "pages" / "local.html"),
                "extra": {},
            },
            batch_id="undefined",
        ),
    ]
    batch = {
        "batch_id": "batch-legacy",
        "batch_name": "Conf 2025",
        "status": "processing",
        "created_at": DATE,
        "updated_at": DATE,
        "total_jobs": 3,
        "completed_jobs": 0,
        "failed_jobs": 0,
        "pending_jobs": 0,
        "processing_jobs": 0,
        "archived": False,
        "isActive": True,
        "access_control": ACCESS,
    }
    with open_store(store_url) as store:
        store.import_documents(docs, [batch])

    config = tmp_path / "jobworker.toml"
    config.write_text(f"""
store = "{store_url}"
[paths]
input_roots = ["{tmp_path}"]
output_root = "{out}"
[plugins.session]
allowed_hosts = ["127.0.0.1"]
allow_private = ["127.0.0.1/32"]
""")
    env = {**os.environ, "JOBWORKER_PLUGINS": "session,transform,pdf"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobworker",
            "--config",
            str(config),
            "run",
            "--burst",
            "--log-json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]

    with open_store(store_url) as store:
        a, b, c, d = (store.get_job(f"job-legacy-{x}") for x in "abcd")
        assert [j.status.value for j in (a, b, c, d)] == [
            "completed",
            "completed",
            "failed",
            "completed",
        ]
        got = store.get_batch("batch-legacy")
        assert (got.completed_jobs, got.failed_jobs, got.status) == (2, 1, "completed")

        # a: page text, nested extra.create_archive = false honoured, legacy fields kept.
        md_a = out / "job-legacy-a" / "Conf 2025" / "Main" / "Keynote.md"
        assert PAGE_TEXT in md_a.read_text() and "Grace Hopper" in md_a.read_text()
        assert a.results["archive_filename"] is None and not md_a.with_suffix(".zip").exists()
        assert a.job_name == "Conf 2025 - Main - Keynote"
        # b: slide text, an archive file with the deck.
        md_b = out / "job-legacy-b" / "Conf 2025" / "Main" / "slides-talk.md"
        assert all(s in md_b.read_text() for s in SLIDES)
        assert Path(b.results["archive_path"]).is_file()
        assert b.unknown.get("started_at") is not None
        # c: refused fetch, typed error naming the allow-list.
        assert c.error.code == "INPUT_FORBIDDEN" and "allowed hosts" in c.error.message
        # d: no track -> <event>/<filename>.md; the page read from a local file.
        md_d = out / "job-legacy-d" / "Conf 2025" / "Local.md"
        assert "Read from the input roots." in md_d.read_text()
        assert d.batch_id is None
        if store_url.startswith("mongodb"):
            raw = {doc["job_id"]: doc for doc in store.jobs.find({}, {"_id": 0})}
            assert raw["job-legacy-a"]["job_type"] == "" and "job_type" not in raw["job-legacy-b"]
            assert raw["job-legacy-d"]["batch_id"] == "undefined"
            assert raw["job-legacy-b"]["results"]["markdown_file"] == str(md_b)
            store.client.drop_database(store.jobs.database.name)
