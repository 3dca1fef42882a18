"""The submit path's shortcuts give exactly what the general code gives (hypothesis): the SQLite
row of a new job, the parameters' size bound, the JSON encoder, job ids and timestamps."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobdocs import job_documents, json_values, nested
from jobworker.model import Job, new_job_id, utcnow
from jobworker.store import open_store
from jobworker.store._codec import _plain, dumps, loads
from jobworker.testing import make_plugins
from jobworker.validation import (
    MAX_PARAMETER_BYTES,
    MAX_PARAMETER_DEPTH,
    _plain_size_bound,
    _walk_json_parameters,
    check_json_parameters,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = open_store(f"sqlite:///{tmp_path_factory.mktemp('rows')}/jobs.db")
    yield s
    s.close()


def _as_new(job: Job) -> Job:
    """The job as a submit makes it: nothing reported yet."""
    job.progress = job.results = job.error = None
    return job


@settings(max_examples=300, deadline=None)
@given(job_documents(), st.booleans())
def test_the_row_of_a_new_job_is_the_general_row(store, doc, new):
    job = Job.from_dict(doc)
    if new:
        job = _as_new(job)
    assert store._job_row(job) == store._general_row(job)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["session", "pdf", "transform"]),
    st.dictionaries(st.text(max_size=6), json_values, max_size=5),
    st.none() | st.text(max_size=6),
    st.none() | st.floats(0, 100),
    st.none() | st.integers(0, 10**6),
    st.dictionaries(st.sampled_from(["owner_key", "$x", "batch_id", "logs"]), json_values),
)
def test_rows_of_submitted_shapes_match(store, job_type, params, user, timeout, delay, unknown):
    from jobworker.client import Client

    client = Client(store, make_plugins())
    job = client.build_job(
        job_type, {"extra": params}, user_id=user, timeout=timeout, allow_unknown_type=True
    )
    if delay is not None:
        job.available_at = job.created_at + timedelta(milliseconds=delay)
    job.unknown.update(unknown)  # fields among them ("batch_id", "logs") take the general path
    assert store._job_row(job) == store._general_row(job)


def test_a_legacy_placeholder_batch_takes_the_general_path(store):
    job = Job.from_dict({"job_type": "pdf", "batch_id": "undefined"})
    assert job.unknown == {"batch_id": "undefined"}
    row = store._job_row(job)
    assert row == store._general_row(job)
    assert row[4] == "undefined"  # the batch_id column, as before


# -- the parameters' size bound ----------------------------------------------------------------

odd_scalars = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(["\ud800", "a\udfffb", '\x00\x1f"\\', "\u2028é€😀"])
    | st.none()
    | st.booleans()
    | st.just(b"x")
    | st.just((1, 2))
)
odd_values = st.recursive(
    odd_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=12,
)


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=4), odd_values, max_size=5))
def test_the_size_bound_only_passes_what_the_walk_passes(params):
    bound = _plain_size_bound(params)
    if bound <= MAX_PARAMETER_BYTES:
        _walk_json_parameters(params)  # raises if the shortcut let something through
        assert _size(params) <= bound


@pytest.mark.parametrize(
    "params",
    [
        {"a": nested(MAX_PARAMETER_DEPTH)},
        {"a": 2**63},
        {"a": -(2**63) - 1},
        {"a": math.inf},
        {"a": "\ud800"},
        {"\udc00": 1},
        {1: "x"},
        {"a": (1,)},
        {"a": "x" * (MAX_PARAMETER_BYTES // 6)},
    ],
)
def test_the_bound_leaves_limits_and_odd_values_to_the_walk(params):
    assert _plain_size_bound(params) > MAX_PARAMETER_BYTES


@pytest.mark.parametrize(
    "worst",
    [-(2**63), -2.2250738585072014e-308, "\x00" * 5, "\U0001f600", False, None, [], {}],
)
def test_the_bound_holds_for_the_longest_json_of_each_kind(worst):
    params = {"\x01" * 3: [worst] * 50, "b": {"\x02": worst}}
    assert _size(params) <= _plain_size_bound(params) <= MAX_PARAMETER_BYTES


def test_the_bound_passes_plain_parameters_at_the_limits():
    params = {"deep": nested(MAX_PARAMETER_DEPTH - 1), "n": [2**63 - 1, -(2**63), 0.1, None]}
    assert _plain_size_bound(params) <= MAX_PARAMETER_BYTES
    check_json_parameters(params)


# -- the JSON encoder, ids, timestamps -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(json_values, st.datetimes(timezones=st.just(timezone.utc)))
def test_dumps_is_the_stdlib_encoding(value, when):
    plain = {"v": value, "d": when}
    expected = json.dumps(plain, default=_plain, separators=(",", ":"), ensure_ascii=False)
    if '"$' not in expected:
        assert dumps(plain) == expected
    assert loads(dumps(plain)) == plain


def test_job_ids_are_version_4_uuids():
    ids = {new_job_id() for _ in range(2000)}
    assert len(ids) == 2000
    for job_id in ids:
        assert job_id.startswith("job-")
        parsed = uuid.UUID(job_id[4:])
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == job_id[4:]


def test_utcnow_is_aware_and_whole_milliseconds():
    for _ in range(2000):
        before = datetime.now(timezone.utc)
        now = utcnow()
        assert now.tzinfo is timezone.utc and now.microsecond % 1000 == 0
        assert before - timedelta(milliseconds=1) < now <= datetime.now(timezone.utc)
