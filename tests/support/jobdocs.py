"""Hypothesis strategies for job documents in the legacy shape (shared by the model and the
SQLite row tests)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import strategies as st
from jobworker.model import JobParameters, JobStatus, normalise_results

NAMED = JobParameters.NAMED

json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
extra_keys = st.text(min_size=1, max_size=8).filter(lambda k: k not in NAMED and k != "extra")


@st.composite
def parameters(draw):
    params = {k: draw(json_values) for k in draw(st.lists(st.sampled_from(NAMED), max_size=6))}
    extra = draw(st.dictionaries(extra_keys, json_values, max_size=4))
    return {**params, "extra": extra}


@st.composite
def job_documents(draw):
    doc = {
        "job_id": "job-" + draw(st.uuids()).hex,
        "job_type": draw(st.sampled_from(["session", "pdf", "audio", "video", "transform"])),
        "status": draw(st.sampled_from([s.value for s in JobStatus])),
        "created_at": draw(dates),
        "updated_at": draw(dates),
        "parameters": draw(parameters()),
        "archived": draw(st.booleans()),
        "access_control": {
            "visibility": "private",
            "read_access": [],
            "write_access": [],
            "admin_access": [],
        },
        "logs": [],
        "attempts": draw(st.integers(0, 5)),
        "max_attempts": draw(st.integers(1, 5)),
        "priority": draw(st.integers(-5, 5)),
        "cancel_requested": draw(st.booleans()),
    }
    if draw(st.booleans()):
        doc["progress"] = {
            "step": draw(st.text(max_size=10)),
            "percent": draw(st.integers(0, 100)),
            "message": draw(st.none() | st.text(max_size=10)),
        }
    if draw(st.booleans()):
        doc["results"] = normalise_results(
            draw(st.dictionaries(extra_keys, json_values, max_size=3))
        )
    if draw(st.booleans()):
        doc["error"] = {
            "code": "X",
            "message": draw(st.text(max_size=10)),
            "details": draw(st.none() | st.dictionaries(extra_keys, json_scalars)),
        }
    for key in ("job_name", "user_id", "batch_id", "idempotency_key"):
        if draw(st.booleans()):
            doc[key] = draw(st.text(min_size=1, max_size=10)).replace("undefined", "u")
    for key in ("processing_started_at", "completed_at", "available_at", "lease_expires_at"):
        if draw(st.booleans()):
            doc[key] = draw(dates)
    # Unknown top-level keys of other generations must survive too.
    doc.update(
        draw(
            st.dictionaries(
                st.sampled_from(["started_at", "event_type", "foo"]),
                json_scalars | dates,
                max_size=2,
            )
        )
    )
    return doc


def nested(depth: int) -> dict:
    """``{"a": {"a": ... {}}}``: objects nested ``depth`` levels deep."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value
