"""The SQLite store reads a row whose values already have their fields' types field by field
(``rows._plain_job``); every other row goes through the general reading. The two must agree
wherever the plain one answers, and it must answer for the rows that submits and claims make."""

from __future__ import annotations

import json
from typing import Any

import testjobs
from hypothesis import given, settings
from hypothesis import strategies as st
from jobworker.model import utcnow
from jobworker.store import Claim
from jobworker.store.sqlite import rows
from jobworker.testing import WorkerHarness

_FAILED = object()


def general(row: tuple[Any, ...]) -> Any:
    try:
        return rows._general_job(row, json.loads(row[rows._DOC]))
    except Exception:
        return _FAILED


def plain(row: tuple[Any, ...]) -> Any:
    return rows._plain_job(row, json.loads(row[rows._DOC]))


ACCESS = {"visibility": "private", "read_access": [], "write_access": [], "admin_access": []}
BASE_DOC: dict[str, Any] = {"parameters": {"n": 1}, "archived": False, "access_control": ACCESS}
BASE_ROW: tuple[Any, ...] = (
    "job-1",  # job_id
    "echo",  # job_type
    "processing",  # status
    0,  # priority
    None,  # batch_id
    1,  # attempts
    3,  # max_attempts
    "w1",  # lease_owner
    0,  # cancel_requested
    0,  # announce_pending
    None,  # idempotency_key
    1_700_000_000_000,  # created_at
    1_700_000_000_500,  # updated_at
    1_700_000_000_000,  # available_at
    1_700_000_030_500,  # lease_expires_at
    1_700_000_000_500,  # heartbeat_at
    1_700_000_000_500,  # processing_started_at
    None,  # completed_at
    '{"step":"initializing","percent":0,"message":null}',  # progress
    None,  # results
    None,  # error
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**45),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["", "undefined", "pending", "completed", "session", "failed"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner)
)
access = st.one_of(
    st.just(ACCESS),
    st.fixed_dictionaries(
        {
            "visibility": st.one_of(st.text(max_size=5), st.integers()),
            "read_access": st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=2),
            "write_access": st.lists(st.text(max_size=3), max_size=2),
            "admin_access": st.lists(st.text(max_size=3), max_size=2),
        }
    ),
    st.dictionaries(st.sampled_from(["visibility", "read_access", "other"]), json_values),
)
doc_changes = st.dictionaries(
    st.sampled_from(
        ["parameters", "archived", "access_control", "job_name", "user_id", "timeout", "logs", "x"]
    ),
    st.one_of(json_values, access, st.dictionaries(st.text(max_size=4), json_values)),
    max_size=3,
)
row_changes = st.dictionaries(
    st.integers(0, len(BASE_ROW) - 1),
    st.one_of(
        scalars,
        st.sampled_from(
            [
                '{"step": "x", "percent": 50, "message": "m"}',
                '{"step": null, "percent": "7"}',
                "null",
                "[1]",
                '{"structured_data": 1}',
                '{"code": "BOOM", "message": "m"}',
            ]
        ),
    ),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(doc_changes, row_changes)
def test_the_plain_reading_agrees_with_the_general_one(doc_change, row_change):
    doc = {**BASE_DOC, **doc_change}
    row = list(BASE_ROW)
    for index, value in row_change.items():
        row[index] = value
    full = (*row, json.dumps(doc), 1)
    try:
        fast = plain(full)
    except Exception:  # unreadable either way: the general reading must refuse it too
        assert general(full) is _FAILED
        return
    if fast is not None:
        expected = general(full)
        assert expected is not _FAILED, "the plain reading accepted a row the general one refuses"
        assert fast == expected
        assert fast.unknown == expected.unknown


def test_rows_of_submitted_and_claimed_jobs_take_the_plain_reading(tmp_path):
    with WorkerHarness(tmp_path, plugins=[testjobs]) as h:
        h.client.submit("echo", {"text": "a"}, job_name="n", priority=2, timeout=9)
        h.client.submit("echo", {"text": "b"}, user_id="u1", batch_id="b1")
        h.client.submit_batch([{"job_type": "noop", "parameters": {}}] * 2)
        h.store.claim(Claim("w1", 30, 2, ["echo"]), utcnow())
        found = h.store._conn.execute(f"SELECT {rows.SELECT} FROM jobs").fetchall()
    assert len(found) == 4
    for row in found:
        fast = plain(row)
        assert fast is not None, row
        assert fast == general(row)
