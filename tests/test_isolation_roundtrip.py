"""User data round-trips exactly through both stores (issue 11, item 1): a dict the user wrote
that looks like a store's own encoding (``{"$date": ...}``, ``$``/``.`` keys, ``results_ref``)
stays the user's dict, in parameters and in results; and parameters no store could keep are
refused at submit with ``INVALID_PARAMETERS``."""

from __future__ import annotations

import json
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobdocs import nested
from jobworker import connect
from jobworker.errors import InvalidParameters
from jobworker.model import Job, JobParameters, JobStatus, utcnow
from jobworker.store import Claim, Outcome
from jobworker.validation import MAX_PARAMETER_BYTES, MAX_PARAMETER_DEPTH
from procs import child_env, jobworker_process
from storefactory import BACKENDS

# Keys and values that look like the stores' own encodings.
LOOKALIKE_KEYS = [
    "$date",
    "$$date",
    "$",
    "$oid",
    "$numberLong",
    "%",
    "%24date",
    "%%24",
    "a.b",
    ".",
    "nul\0key",
    "results_ref",
    "gridfs_id",
    "",
]
LOOKALIKE_VALUES = [
    {"$date": "not-a-date"},
    {"$date": "2024-05-01T10:00:00Z"},
    {"$date": 1714557600000},
    {"$$date": "x"},
    {"$oid": "0123456789abcdef01234567"},
    {"results_ref": {"gridfs_id": "0123456789abcdef01234567", "size": 1, "bucket": "b"}},
    {"$numberLong": "5"},
]

keys = st.one_of(st.sampled_from(LOOKALIKE_KEYS), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(LOOKALIKE_VALUES),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=24,
)
# Top-level "extra" is the legacy shape's own nesting (flattened on read), so not a user key.
parameters = st.dictionaries(keys.filter(lambda k: k != "extra"), json_values, max_size=6)


@pytest.fixture(scope="module", params=BACKENDS)
def shared_store(request, tmp_path_factory):
    """One store per backend for all hypothesis examples (they use fresh job ids)."""
    from storefactory import make_store

    store = make_store(request.param, tmp_path_factory.mktemp("roundtrip"))
    yield store
    drop = getattr(store, "drop_database", None)
    if drop:
        drop()
    store.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(params=parameters, results=json_values)
def test_any_json_parameters_and_results_round_trip_unchanged(shared_store, params, results):
    store = shared_store
    job = Job("roundtrip", JobParameters.from_dict(params), job_id=f"job-{uuid.uuid4()}")
    store.enqueue([job])
    stored = store.get_job(job.job_id)
    assert stored.parameters == job.parameters
    assert [store.get_job(job.job_id).parameters.get(k) for k in params] == list(params.values())
    worker = f"w-{uuid.uuid4().hex[:6]}"
    claimed = store.claim(Claim(worker, 30, 1, types=["roundtrip"]), utcnow())
    assert [j.job_id for j in claimed] == [job.job_id]
    assert claimed[0].parameters == job.parameters
    full = {"structured_data": results, "user_keys": params}
    [done] = store.finish([Outcome(job.job_id, worker, "completed", results=full)], utcnow())
    assert done.job.results == full
    final = store.get_job(job.job_id)
    assert final.status is JobStatus.COMPLETED
    assert final.results == full
    assert final.parameters == job.parameters
    [listed] = [j for j in store.list_jobs(limit=5) if j.job_id == job.job_id]
    assert listed.results == full


def test_a_date_lookalike_in_parameters_is_the_users_dict(store):
    context = {"$date": "not-a-date", "when": {"$date": "2024-05-01T10:00:00Z"}}
    job = Job("session", JobParameters.from_dict({"context": context}))
    store.enqueue([job])
    got = store.get_job(job.job_id)
    assert got.parameters.values["context"] == context
    assert got.parameters.values["context"]["when"] == {"$date": "2024-05-01T10:00:00Z"}


def _url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/jobs.db"
    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwiso_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def url(backend, tmp_path):
    return _url(backend, tmp_path)


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


def test_worker_processes_lookalike_parameters_among_good_jobs(url, client, tmp_path):
    """The issue's stop-the-world input: ``context:={"$date": "not-a-date"}``."""
    odd = {"$date": "not-a-date"}
    other = {"a.b": {"$oid": "x"}, "%24": [{"$numberLong": "1"}], "$date": 5}
    good = [client.submit("noop", {}) for _ in range(5)]
    tricky = client.submit("echo", {"context": odd, "template": other})
    more = [client.submit("noop", {}) for _ in range(5)]
    worker = jobworker_process(url, "run", "--burst", cwd=tmp_path)
    assert worker.wait(timeout=120) == 0
    for job in [*good, *more]:
        assert client.get(job.job_id).status is JobStatus.COMPLETED
    done = client.get(tricky.job_id)
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.parameters.values["context"] == odd
    assert done.results["structured_data"]["params"]["context"] == odd
    assert done.parameters.values["template"] == other
    assert done.results["structured_data"]["params"]["template"] == other
    listed = client.list(limit=50)
    assert len(listed) == 11 and {j.status for j in listed} == {JobStatus.COMPLETED}


def test_cli_submit_lookalike_then_list_and_status(url, client, tmp_path):
    import subprocess

    out = subprocess.run(
        [*_cli(url), "submit", "echo", "-p", 'context:={"$date": "not-a-date"}'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        check=True,
    )
    job_id = out.stdout.strip()
    shown = subprocess.run(
        [*_cli(url), "status", job_id, "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        check=True,
    )
    assert json.loads(shown.stdout)["parameters"]["context"] == {"$date": "not-a-date"}
    listed = subprocess.run(
        [*_cli(url), "list"], capture_output=True, text=True, cwd=tmp_path, env=_env()
    )
    assert listed.returncode == 0 and job_id[:12] in listed.stdout


def _cli(url: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "jobworker", "--store", url, "--plugin", "testjobs"]


def _env() -> dict[str, str]:

    return child_env()


# -- refused at submit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"context": nested(MAX_PARAMETER_DEPTH)}, "nested deeper"),
        ({"context": "x" * (MAX_PARAMETER_BYTES + 1)}, "bytes as JSON"),
        ({"context": 2**64}, "64-bit"),
        ({"context": float("nan")}, "not a JSON number"),
        ({"context": {1: "x"}}, "not a string"),
        ({"context": "\ud800"}, "lone surrogate"),
        ({"context": {"when": utcnow()}}, "not a JSON value"),
        ({"context": b"bytes"}, "not a JSON value"),
    ],
)
def test_parameters_no_store_keeps_exactly_are_refused_at_submit(client, params, fragment):
    with pytest.raises(InvalidParameters, match=fragment):
        client.submit("echo", params)
    assert client.list() == []


def test_parameters_at_the_limits_are_accepted(client):
    deep = client.submit("echo", {"context": nested(MAX_PARAMETER_DEPTH - 1)})
    assert client.get(deep.job_id).parameters.values["context"] == nested(MAX_PARAMETER_DEPTH - 1)
    big = client.submit("echo", {"context": "x" * (MAX_PARAMETER_BYTES // 2)})
    assert len(client.get(big.job_id).parameters.values["context"]) == MAX_PARAMETER_BYTES // 2


def test_ten_thousand_deep_json_on_the_cli_is_a_clean_error(url, tmp_path):
    import subprocess

    deep = "[" * 10_000 + "]" * 10_000
    for args in (["-p", f"context:={deep}"], ["--params-json", '{"context": ' + deep + "}"]):
        out = subprocess.run(
            [*_cli(url), "submit", "echo", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=_env(),
        )
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        assert "INVALID_PARAMETERS" in out.stderr and "nested" in out.stderr
