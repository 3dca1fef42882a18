"""The job model: legacy documents read and written back losing nothing (hypothesis)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobdocs import NAMED, extra_keys, job_documents, json_values, parameters
from jobworker.model import (
    LEGACY_RESULT_KEYS,
    Batch,
    Job,
    JobParameters,
    JobStatus,
    normalise_results,
)


def canonical_parameters(params: dict, job_type: str = "session") -> dict:
    return JobParameters.from_dict(params, job_type=job_type).to_dict()


@settings(max_examples=300, deadline=None)
@given(job_documents())
def test_job_document_round_trip_loses_nothing(doc):
    original = copy.deepcopy(doc)
    out = Job.from_dict(doc).to_dict()
    assert doc == original  # reading does not mutate the input
    params = canonical_parameters(original["parameters"], original["job_type"])
    if original["job_type"] != "session":
        assert params == original["parameters"]  # other types: exactly as given
    assert out == {**original, "parameters": params}
    # and a second round trip is the identity
    assert Job.from_dict(out).to_dict() == out


@given(parameters(), st.dictionaries(extra_keys, json_values, max_size=3))
def test_nested_extra_is_flattened_and_outer_keys_win(params, inner):
    nested = {**params, "extra": {**params["extra"], "extra": inner}}
    got = JobParameters.from_dict(nested)
    assert got.extra == {**inner, **params["extra"]}
    for key in NAMED:
        assert key in got.to_dict()


@given(st.dictionaries(st.sampled_from(NAMED) | extra_keys, json_values, max_size=8))
def test_unknown_parameter_keys_land_in_extra_and_come_back(params):
    got = JobParameters.from_dict(params)
    assert set(got.extra) == {k for k in params if k not in NAMED}
    assert got.flat() == {**JobParameters().values, **params}


def test_empty_or_missing_job_type_means_session():
    assert Job.from_dict({"job_id": "j", "job_type": "", "status": "pending"}).job_type == "session"
    assert Job.from_dict({"job_id": "j", "status": "pending"}).job_type == "session"


def test_unknown_status_raises_like_the_old_reader():
    with pytest.raises(ValueError):
        Job.from_dict({"job_id": "j", "status": "cancelled"})


def test_percent_is_clamped_and_results_filled_in_legacy_shape():
    job = Job.from_dict(
        {
            "job_id": "j",
            "status": "processing",
            "progress": {"step": "x", "percent": 150, "message": None},
        }
    )
    assert job.progress.percent == 100
    assert list(normalise_results({"x": 1})) == [*LEGACY_RESULT_KEYS, "x"]


LEGACY_PDF = {
    "job_id": "job-7d2c0f7e-1b7a-4c2e-9a51-0c6f3b9e2a11",
    "job_type": "pdf",
    "status": "completed",
    "created_at": {"$date": "2026-05-02T09:14:03.120Z"},
    "updated_at": {"$date": "2026-05-02T09:14:41.902Z"},
    "parameters": {
        "event": None,
        "session": None,
        "url": None,
        "filename": "/srv/cache/upload_5b1e.pdf",
        "track": None,
        "day": None,
        "starttime": None,
        "endtime": None,
        "speakers": [],
        "video_url": None,
        "attachments_url": None,
        "source_language": "en",
        "target_language": None,
        "use_cache": True,
        "extraction_method": "native",
        "template": None,
        "context": None,
        "include_images": False,
        "force_refresh": False,
        "file_hash": "9e107d9d",
        "webhook": {"url": "https://client.example/hook", "token": "s3cr3t", "jobId": "ext-42"},
        "extra": {"page_start": 1, "page_end": 3},
    },
    "archived": False,
    "access_control": {
        "visibility": "private",
        "read_access": [],
        "write_access": [],
        "admin_access": [],
    },
    "processing_started_at": {"$date": "2026-05-02T09:14:40.010Z"},
    "progress": {"step": "completed", "percent": 100, "message": "Verarbeitung abgeschlossen"},
    "logs": [
        {
            "timestamp": {"$date": "2026-05-02T09:14:05.001Z"},
            "level": "info",
            "message": "Job-Verarbeitung gestartet",
        }
    ],
    "results": {
        "markdown_file": None,
        "markdown_content": None,
        "assets": [],
        "web_text": None,
        "video_transcript": None,
        "attachments_text": None,
        "context": None,
        "attachments_url": None,
        "archive_data": None,
        "archive_filename": None,
        "structured_data": {
            "status": "success",
            "request": {},
            "process": {},
            "error": None,
            "data": {"extracted_text": "…", "metadata": {}},
        },
        "target_dir": "/p",
        "page_texts": ["/p/page_001.txt"],
        "asset_dir": "/p",
    },
    "completed_at": {"$date": "2026-05-02T09:14:41.902Z"},
}

LEGACY_SESSION_OLD = {  # pre-2025-03-03: no job_type, started_at, batch_id "undefined"
    "job_id": "job-old",
    "status": "pending",
    "batch_id": "undefined",
    "created_at": datetime(2025, 2, 1, tzinfo=timezone.utc),
    "started_at": datetime(2025, 2, 1, tzinfo=timezone.utc),
    "parameters": {
        "event": "FOSDEM",
        "session": "Talk",
        "url": "https://x/talk",
        "extra": {"create_archive": False, "extra": {"speakers_url": "s"}},
    },
    "logs": [
        {"timestamp": datetime(2025, 2, 1, tzinfo=timezone.utc), "level": "loud", "message": "x"}
    ],
}


def test_legacy_pdf_example_reads_and_writes_back():
    job = Job.from_dict(LEGACY_PDF)
    assert job.job_type == "pdf" and job.status is JobStatus.COMPLETED
    assert job.external_id == "ext-42"
    assert job.parameters.extra == {"page_start": 1, "page_end": 3}
    assert job.logs[0].message == "Job-Verarbeitung gestartet"
    out = job.to_dict()
    assert out["results"] == LEGACY_PDF["results"]
    assert out["parameters"] == LEGACY_PDF["parameters"]
    assert out["completed_at"] == datetime(2026, 5, 2, 9, 14, 41, 902000, tzinfo=timezone.utc)


def test_legacy_old_session_document():
    job = Job.from_dict(LEGACY_SESSION_OLD)
    assert job.job_type == "session" and job.batch_id is None
    assert job.parameters.extra == {"create_archive": False, "speakers_url": "s"}
    assert job.logs[0].level.value == "info"  # an invalid level reads as info
    out = job.to_dict()
    assert out["started_at"] == LEGACY_SESSION_OLD["started_at"]
    assert out["batch_id"] == "undefined"
    assert out["status"] == "pending"


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_batch_round_trip(total, done, failed):
    b = Batch(total_jobs=total, completed_jobs=done, failed_jobs=failed)
    doc = b.to_dict()
    assert doc["batch_name"] == b.batch_id and doc["isActive"] is True
    assert Batch.from_dict(doc).to_dict() == doc


# -- parameters: session jobs in the legacy shape, every other type as given (issue 15) -------


def old_reader(params: dict) -> dict:
    """The old system's ``JobParameters.from_dict`` (latest version, legacy-schema.md section 2):
    named keys via ``get(key, default)``, an incoming ``extra`` unpacked and merged, other
    top-level keys into ``extra`` (winning)."""
    out = {k: params.get(k, JobParameters().values[k]) for k in NAMED}
    extra = dict(params.get("extra") or {})
    extra.update({k: v for k, v in params.items() if k not in NAMED and k != "extra"})
    return {**out, "extra": extra}


def old_reader_before_extra(params: dict) -> dict:
    """Its version before ``extra`` existed (before 2025-08-15): named keys only."""
    return {k: params.get(k, JobParameters().values[k]) for k in NAMED}


@given(st.dictionaries(st.sampled_from(NAMED) | extra_keys, json_values, max_size=8))
def test_other_types_keep_their_own_parameters_and_old_readers_still_read_them(params):
    for job_type in ("wordstats", "pdf", "transform"):
        got = JobParameters.from_dict(params, job_type=job_type)
        assert got.to_dict() == params  # written and shown exactly as given
        assert got.flat() == params  # what the handler validates: no session defaults
        # An old reader sees the same parameters as in the legacy shape it would have written.
        legacy = JobParameters.from_dict(params).to_dict()
        assert old_reader(got.to_dict()) == old_reader(legacy)
        assert old_reader_before_extra(got.to_dict()) == old_reader_before_extra(legacy)


def test_session_jobs_keep_the_full_legacy_shape():
    doc = Job("session", JobParameters.from_dict({"event": "E", "session": "S"})).to_dict()
    assert set(doc["parameters"]) == {*NAMED, "extra"}
    assert doc["parameters"]["target_language"] == "de" and doc["parameters"]["extra"] == {}
    legacy = Job.from_dict({"job_id": "j", "status": "pending", "parameters": {"event": "E"}})
    assert legacy.job_type == "session" and set(legacy.to_dict()["parameters"]) >= set(NAMED)
    words = Job.from_dict(
        {"job_id": "w", "job_type": "wordstats", "status": "pending", "parameters": {"text": "x"}}
    )
    assert words.to_dict()["parameters"] == {"text": "x"} and words.parameters.get("text") == "x"
