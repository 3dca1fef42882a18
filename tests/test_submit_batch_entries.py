"""A batch submit's common entries skip building a Job (jobworker.quick_entries): whatever it
takes is exactly what ``Client.build_job`` makes of the entry, the SQLite row written for it is
the row of that job, and everything it leaves (invalid entries included) goes through
``build_job``, with the same typed errors naming the entry. Compared with hypothesis."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from jobdocs import json_values
from jobworker import JobHandler, hookimpl
from jobworker.client import Client
from jobworker.errors import InvalidParameters, UnknownJobType
from jobworker.model import Job, JobParameters
from jobworker.newjobs import NewJob
from jobworker.quick_entries import QuickEntries
from jobworker.store import open_store
from jobworker.store._codec import dumps, dumps_plain, from_ms, loads
from jobworker.store.sqlite.jobs import _INSERT_JOB, _INSERT_NEW
from jobworker.testing import make_plugins
from storefactory import BACKENDS, make_store


@attrs.define
class Plain:
    n: int
    ratio: float | None = None
    label: str = "x"
    flag: bool = False
    url: str | None = None  # a legacy named key: None means "not given"


def _positive(instance: Any, attribute: Any, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.define
class Checked:
    n: int = attrs.field(validator=_positive)


@attrs.define
class Listed:  # not a plain schema: cattrs decides every entry
    tags: list[str] = attrs.Factory(list)


async def _noop(ctx: object) -> None:
    return None


class Types:
    @hookimpl
    def register_job_handlers(self, register: Callable[[JobHandler], None]) -> None:
        register(JobHandler("plain", _noop, params=Plain, max_attempts=5, aliases=("old_plain",)))
        register(JobHandler("checked", _noop, params=Checked))
        register(JobHandler("listed", _noop, params=Listed))
        register(JobHandler("free", _noop))  # no schema


class Seen:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    @hookimpl
    def job_submitted(self, job: Job, store: object) -> None:
        self.jobs.append(job)


PLUGINS = make_plugins([Types()])


@pytest.fixture(scope="module")
def rows_store(tmp_path_factory):
    s = open_store(f"sqlite:///{tmp_path_factory.mktemp('entries')}/jobs.db")
    yield s
    s.close()


scalars = (
    st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4)
    | st.sampled_from(["\ud800", "$x", "1", "true"])
    | st.booleans()
    | st.none()
)
param_values = (
    scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=3), scalars)
)
param_keys = st.sampled_from(
    [
        "n",
        "ratio",
        "label",
        "flag",
        "url",
        "tags",
        "extra",
        "webhook",
        "other",
        "$k",
        "source_language",
    ]
)
wild_specs = st.fixed_dictionaries(
    {},
    optional={
        "job_type": st.sampled_from(
            ["plain", "old_plain", "checked", "listed", "free", "nope", "session", "", None, 3]
        ),
        "parameters": st.dictionaries(param_keys, param_values, max_size=5)
        | st.none()
        | st.just([1]),
        "priority": st.integers(-3, 3) | st.just("high") | st.just(True),
        "job_name": st.none() | st.text(max_size=4) | st.just(7),
        "timeout": st.just(5.0),
        "idempotency_key": st.just("k"),
    },
)
#: entries as a producer writes them: mostly right, sometimes a value of another type
common_specs = st.fixed_dictionaries(
    {
        "job_type": st.sampled_from(["plain", "old_plain", "checked", "free", "nope"]),
        "parameters": st.fixed_dictionaries(
            {"n": st.integers(-2, 2**64) | st.sampled_from(["1", 1.5, None])},
            optional={
                "ratio": st.none() | st.floats() | st.integers(0, 3),
                "label": st.text(max_size=4) | st.sampled_from(["\ud800", "$x"]),
                "flag": st.booleans() | st.sampled_from(["yes", 0]),
                "url": st.none() | st.text(max_size=3),
                "source_language": st.none() | st.just("fr"),
                "other": json_values,
            },
        ),
    },
    optional={"priority": st.integers(-3, 3), "job_name": st.none() | st.text(max_size=4)},
)
specs = common_specs | wild_specs


def _general(client: Client, spec: dict[str, Any], user: Any, allow: bool, owner: Any) -> Job:
    """What submit_batch_jobs builds for an entry the quick path leaves."""
    spec = dict(spec)
    job_type = spec.pop("job_type", None) or "session"
    parameters = spec.pop("parameters", {})
    spec.setdefault("user_id", user)
    spec.setdefault("allow_unknown_type", allow)
    spec["owner"] = owner
    return client.build_job(job_type, parameters, **spec)


@settings(max_examples=600, deadline=None)
@given(
    specs,
    st.none() | st.sampled_from(["ada", "", 7]),
    st.booleans(),
    st.none() | st.sampled_from(["key-1", 2.5]),
)
def test_a_taken_entry_is_the_job_build_job_makes(rows_store, spec, user, allow, owner):
    client = Client(rows_store, PLUGINS)
    new = QuickEntries(PLUGINS, user, allow, owner).take(spec)
    try:
        general = _general(client, spec, user, allow, owner)
    except (InvalidParameters, UnknownJobType, TypeError):
        assert new is None  # what build_job refuses, the quick path leaves to it
        event("refused")
        return
    event("general" if new is None else "taken")
    if new is None:
        return
    assert isinstance(new, NewJob)
    general.job_id = new.job_id
    assert abs((general.created_at - from_ms(new.created_ms)).total_seconds()) < 5
    general.created_at = general.updated_at = from_ms(new.created_ms)
    assert new.to_job() == general
    assert new.to_job("batch-1") == attrs.evolve(general, batch_id="batch-1")
    # the SQLite row written for it is the row of that job, its document the same JSON
    new_row = _row_as_stored(rows_store, _INSERT_NEW, rows_store._new_row(new, "batch-1"))
    expected = _row_as_stored(rows_store, _INSERT_JOB, rows_store._job_row(new.to_job("batch-1")))
    assert new_row == expected


def _row_as_stored(store: Any, sql: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Every column of ``row`` as SQLite stores it (the doc decoded), inserted and rolled back."""
    db = store._conn
    db.execute("BEGIN")
    try:
        db.execute(sql, row)
        [stored] = db.execute("SELECT * FROM jobs WHERE job_id = ?", (row[0],)).fetchall()
        names = [d[0] for d in db.execute("SELECT * FROM jobs LIMIT 0").description]
    finally:
        db.execute("ROLLBACK")
    return tuple(loads(v) if n == "doc" else v for n, v in zip(names, stored, strict=True))


def test_the_common_entries_are_taken():
    quick = QuickEntries(PLUGINS, None, False, None)
    for spec in (
        {"job_type": "plain", "parameters": {"n": 1, "ratio": 0.5}},
        {"job_type": "old_plain", "parameters": {"n": 1}, "priority": 2, "job_name": "a"},
        {"job_type": "checked", "parameters": {"n": 3}},
        {"job_type": "free", "parameters": {"anything": [1, {"b": None}]}},
        {"job_type": "free"},
    ):
        assert quick.take(spec) is not None, spec
    assert quick.take({"job_type": "old_plain", "parameters": {"n": 1}}).job_type == "plain"
    # a user or owner that is not text: documents the plain encoder must not write
    for user, owner in ((7, None), (None, b"k")):
        odd = QuickEntries(PLUGINS, user, False, owner)
        assert odd.take({"job_type": "plain", "parameters": {"n": 1}}) is None
    for spec in (
        {"job_type": "checked", "parameters": {"n": 0}},  # the validator refuses it
        {"job_type": "plain", "parameters": {"n": "1"}},  # cattrs converts: its business
        {"job_type": "plain", "parameters": {"n": 1, "typo": 2}},
        {"job_type": "plain", "parameters": {"n": 1}, "idempotency_key": "k"},
        {"job_type": "free", "parameters": {"x": math.nan}},
        {"job_type": "free", "parameters": {"webhook": {"url": "http://x"}}},
        {"job_type": "free", "parameters": {"extra": {"a": 1}}},
        {"job_type": "nope", "parameters": {}},
        {"parameters": {"url": "x"}},  # the legacy session shape
    ):
        assert quick.take(spec) is None, spec


@settings(max_examples=300, deadline=None)
@given(json_values, st.floats(allow_nan=False, allow_infinity=False))
def test_dumps_plain_writes_what_dumps_writes(value, number):
    for doc in ({"v": value}, {"v": value, "f": [number, -number]}):
        assert loads(dumps_plain(doc)) == loads(dumps(doc)) == doc
        if "f" not in doc:
            assert dumps_plain(doc) == dumps(doc)  # no float: the very same text


def test_dumps_plain_leaves_what_msgspec_cannot_write_to_dumps():
    for doc in ({"a": "\ud800"}, {1: "x"}, {"a": 2**70}, {"$date": "x"}, {"k": {"$a": 1}}):
        assert dumps_plain(doc) == dumps(doc)


# -- whole batches ---------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def client(request, tmp_path):
    store = make_store(request.param, tmp_path)
    store.init()
    seen = Seen()
    c = Client(store, make_plugins([Types(), seen]))
    c.seen = seen
    yield c
    store.close()


def _stored(client: Client, job_id: str) -> dict[str, Any]:
    job = client.get(job_id)
    assert job is not None
    return job.to_dict()


def test_a_mixed_batch_stores_what_the_general_path_stores(client):
    specs = [
        {"job_type": "plain", "parameters": {"n": i, "ratio": i / 3}, "priority": i % 2}
        for i in range(5)
    ]
    specs.insert(2, {"job_type": "plain", "parameters": {"n": 9}, "idempotency_key": "same"})
    specs.append({"job_type": "plain", "parameters": {"n": 9}, "idempotency_key": "same"})
    specs.append({"job_type": "listed", "parameters": {"tags": ["a"]}, "job_name": "named"})
    batch, jobs = client.submit_batch_jobs(specs, batch_name="mixed", user_id="ada", owner="k1")
    assert batch.total_jobs == len(specs) - 1  # the second "same" key is the first job
    assert jobs[2].job_id == jobs[6].job_id
    assert [j.parameters.to_dict() for j in jobs] == [s["parameters"] for s in specs]
    assert client.seen.jobs == jobs  # job_submitted once per entry, in order
    for spec, job in zip(specs, jobs, strict=True):
        assert job.batch_id == batch.batch_id
        stored = _stored(client, job.job_id)
        returned = job.to_dict()
        assert stored.pop("available_at") == job.created_at  # the store's "due when made"
        assert returned.pop("available_at", None) in (None, job.created_at)
        assert stored == returned
        expected = _general(client, spec, "ada", False, "k1").to_dict()
        expected["batch_id"] = batch.batch_id
        for key in ("job_id", "created_at", "updated_at", "logs"):
            stored.pop(key)
            expected.pop(key)
        assert stored == expected
        assert stored["owner_key"] == "k1"


def test_submit_batch_without_observers_stores_the_same_jobs(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/jobs.db")
    try:
        client = Client(store, PLUGINS)
        batch = client.submit_batch(
            [{"job_type": "plain", "parameters": {"n": i}} for i in range(50)], user_id="ada"
        )
        assert client.counts(batch_id=batch.batch_id)["pending"] == 50
        jobs = client.list(batch_id=batch.batch_id, limit=100)
        assert sorted(j.parameters.to_dict()["n"] for j in jobs) == list(range(50))
        for job in jobs:
            assert job.max_attempts == 5 and job.job_type == "plain"
            assert job.access_control.read_access == ["ada"] and job.user_id == "ada"
            assert job.parameters == JobParameters.from_dict(
                {"n": job.parameters.to_dict()["n"]}, job_type="plain"
            )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("bad", "error", "text"),
    [
        ({"job_type": "checked", "parameters": {"n": -1}}, InvalidParameters, "n must be positive"),
        ({"job_type": "plain", "parameters": {"n": 1, "typo": 1}}, InvalidParameters, "typo"),
        ({"job_type": "plain", "parameters": {"n": math.inf}}, InvalidParameters, "JSON number"),
        ({"job_type": "nope"}, UnknownJobType, "unknown job type 'nope'"),
    ],
)
def test_an_invalid_entry_among_quick_ones_is_named_and_nothing_stored(client, bad, error, text):
    specs: list[Any] = [{"job_type": "plain", "parameters": {"n": i}} for i in range(4)]
    specs.insert(3, bad)
    with pytest.raises(error, match=f"job #3: .*{text}"):
        client.submit_batch(specs)
    assert sum(client.counts().values()) == 0
    assert client.seen.jobs == []


# -- one-by-one submits --------------------------------------------------------------------------


def test_a_common_submit_takes_the_quick_path_and_returns_the_stored_job(client, monkeypatch):
    general = client.build_job("plain", {"n": 1, "label": "a"}, priority=2, job_name="x")

    def no_build(*args: Any, **kwargs: Any) -> Job:
        raise AssertionError("the common submit builds no Job first")

    monkeypatch.setattr(client, "build_job", no_build)
    job = client.submit("plain", {"n": 1, "label": "a"}, priority=2, job_name="x")
    assert client.seen.jobs == [job]
    general.job_id, general.created_at, general.updated_at = (
        job.job_id,
        job.created_at,
        job.created_at,
    )
    assert job == general
    stored = client.get(job.job_id)
    assert stored is not None and stored.available_at == job.created_at
    stored.available_at, stored.logs = None, []
    assert stored == job
    # into a batch: created by the first, grown by the next
    a = client.submit("old_plain", {"n": 2}, batch_id="b-1")
    b = client.submit("plain", {"n": 3}, batch_id="b-1")
    assert a.batch_id == b.batch_id == "b-1" and a.job_type == "plain"
    batch = client.batch("b-1")
    assert batch is not None and batch.total_jobs == batch.pending_jobs == 2


@pytest.mark.parametrize(
    "options",
    [
        {"idempotency_key": "once"},
        {"user_id": "ada"},
        {"owner": "key-1"},
        {"delay": 60},
        {"timeout": 5.0},
        {"max_attempts": 1},
        {"webhook": "http://127.0.0.1:9/hook"},
    ],
)
def test_submits_with_other_options_are_built_as_before(client, monkeypatch, options):
    built: list[Job] = []
    build = client.build_job

    def counting(*args: Any, **kwargs: Any) -> Job:
        built.append(build(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(client, "build_job", counting)
    job = client.submit("plain", {"n": 1}, **options)
    assert built and job.job_id == built[0].job_id
    assert client.get(job.job_id) is not None


def test_an_invalid_common_submit_raises_what_build_job_raises(client):
    with pytest.raises(InvalidParameters, match="n must be positive"):
        client.submit("checked", {"n": 0})
    with pytest.raises(InvalidParameters, match="typo"):
        client.submit("plain", {"n": 1, "typo": 2})
    with pytest.raises(UnknownJobType):
        client.submit("nope", {})
    assert sum(client.counts().values()) == 0 and client.seen.jobs == []


def test_a_client_sees_handlers_its_plugins_gain_or_change_between_submits(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/jobs.db")
    plugins = make_plugins([Types()])
    client = Client(store, plugins)
    try:
        assert client.submit("plain", {"n": 1}).max_attempts == 5
        with pytest.raises(UnknownJobType):
            client.submit("later", {"x": 1})

        class Later:
            @hookimpl
            def register_job_handlers(self, register: Callable[[JobHandler], None]) -> None:
                register(JobHandler("later", _noop, max_attempts=7))

        plugins.register(Later())
        plugins.collect_handlers()
        assert client.submit("later", {"x": 1}).max_attempts == 7
        changed = attrs.evolve(plugins.handler_for("plain"), max_attempts=9)
        plugins.handlers["plain"] = changed
        assert client.submit("plain", {"n": 1}).max_attempts == 9
        assert sorted(j.max_attempts for j in client.list(limit=10)) == [5, 7, 9]
    finally:
        store.close()
