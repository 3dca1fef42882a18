"""Reading a job document without cattrs (the claim path) gives what the cattrs converter gives:
the same job, or an error where it raises one (hypothesis, legacy and odd values included)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jobworker.model import Job, JobStatus, _converter, _structure_job

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=5,
)
dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
# What stored documents hold for times: datetimes, Extended JSON, ISO text, epoch numbers.
times = (
    dates
    | dates.map(lambda d: d.replace(tzinfo=None))
    | dates.map(lambda d: {"$date": d.isoformat()})
    | dates.map(lambda d: d.isoformat().replace("+00:00", "Z"))
    | st.integers(0, 4_000_000_000)
)
lists_of_names = st.lists(st.text(max_size=4) | st.integers(0, 9), max_size=3) | st.text(max_size=3)
log_entries = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": times,
        "level": st.sampled_from(["info", "warning", "error", "debug", "INFO"]),
        "message": st.text(max_size=5) | st.integers(),
    },
)

fields: dict[str, Any] = {
    "job_type": st.sampled_from(["session", "pdf", "bench.noop"]),
    "parameters": st.just({}),
    "job_id": st.text(min_size=1, max_size=8),
    "job_name": st.none() | st.text(max_size=5) | st.integers(),
    "status": st.sampled_from([s.value for s in JobStatus]) | st.just("lost"),
    "created_at": times,
    "updated_at": times | st.none(),
    "processing_started_at": times | st.none(),
    "completed_at": times | st.none(),
    "archived": st.booleans() | st.integers(0, 2) | st.none(),
    "user_id": st.none() | st.text(max_size=5),
    "access_control": st.fixed_dictionaries(
        {},
        optional={
            "visibility": st.text(max_size=5) | st.integers(),
            "read_access": lists_of_names,
            "write_access": lists_of_names | st.none(),
            "admin_access": lists_of_names,
        },
    ),
    "progress": st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "step": st.none() | st.text(max_size=5),
            "percent": st.integers(-5, 120) | st.floats(0, 100) | st.text(max_size=3),
            "message": st.none() | st.text(max_size=5),
        },
    ),
    "results": st.none() | st.dictionaries(st.text(max_size=4), values, max_size=3),
    "error": st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "code": st.text(max_size=5) | st.integers(),
            "message": st.text(max_size=5),
            "details": st.none() | st.dictionaries(st.text(max_size=3), values, max_size=2),
        },
    ),
    "batch_id": st.none() | st.text(max_size=5),
    "logs": st.lists(log_entries, max_size=3),
    "attempts": st.integers(0, 5) | st.floats(0, 5) | st.text(max_size=2),
    "max_attempts": st.integers(1, 5) | st.just("3"),
    "priority": st.integers(-5, 5) | st.none(),
    "available_at": times | st.none(),
    "timeout": st.none() | st.floats(0, 100) | st.integers(0, 9) | st.text(max_size=3),
    "lease_owner": st.none() | st.text(max_size=5),
    "lease_expires_at": times | st.none() | st.text(max_size=3),
    "heartbeat_at": times | st.none(),
    "cancel_requested": st.booleans() | st.integers(0, 1),
    "idempotency_key": st.none() | st.text(max_size=5),
    "announce_pending": st.booleans(),
}


#: given always: their defaults are new ids and the current time, different on each read
_DEFAULTED = ("job_id", "created_at", "updated_at")


def _outcome(read: Any, data: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "job", read(dict(data))
    except Exception as exc:  # which error does not matter, only that both raise
        return "error", exc


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {k: fields[k] for k in _DEFAULTED},
        optional={k: v for k, v in fields.items() if k not in _DEFAULTED},
    )
)
def test_structure_without_cattrs_equals_the_converter(data):
    with_cattrs = _outcome(lambda d: _converter().structure(d, Job), data)
    without = _outcome(_structure_job, data)
    assert without[0] == with_cattrs[0], (with_cattrs, without)
    if with_cattrs[0] == "job":
        assert without[1] == with_cattrs[1]
        for name in ("progress", "error", "access_control"):  # nested values, field by field
            assert repr(getattr(without[1], name)) == repr(getattr(with_cattrs[1], name))


def test_a_plain_claimed_document_reads_the_same():
    data = {
        "job_type": "bench.noop",
        "job_id": "job-1",
        "status": "processing",
        "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "updated_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "access_control": {"visibility": "private", "read_access": ["u"]},
        "progress": {"step": "processing", "percent": 40},
        "results": {"a": [1, {"b": None}]},
        "error": {"code": "E", "message": "m", "details": {"k": 1}},
        "logs": [{"timestamp": 0, "level": "info", "message": "x"}],
        "attempts": 1,
        "timeout": 2,
    }
    job = _structure_job(dict(data))
    assert job == _converter().structure(dict(data), Job)
    assert job.progress is not None and job.progress.percent == 40
    assert job.error is not None and job.error.details == {"k": 1}
    assert job.timeout == 2.0 and isinstance(job.timeout, float)
