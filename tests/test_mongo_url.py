"""MongoDB store URLs and options: parsed without a server (pymongo connects lazily)."""

from __future__ import annotations

import pytest

pytest.importorskip("pymongo")

from jobworker.store import StoreError
from jobworker.store.mongo import MongoStore, split_url


def make(url: str, **options) -> MongoStore:
    return MongoStore.from_url(url, **options)


def test_database_from_path_and_default():
    assert make("mongodb://127.0.0.1:1/prod").database_name == "prod"
    assert make("mongodb://127.0.0.1:1").database_name == "jobworker"
    assert make("mongodb://127.0.0.1:1/?replicaSet=rs0").database_name == "jobworker"


@pytest.mark.parametrize(
    ("query", "jobs", "batches"),
    [
        ("", "jobs", "batches"),
        ("?collections=default", "jobs", "batches"),
        ("?collections=generic", "jobs", "batches"),
        ("?collections=legacy", "event_jobs", "event_batches"),
        ("?collections=legacy&jobs_collection=my_jobs", "my_jobs", "event_batches"),
        ("?jobs_collection=a&batches_collection=b", "a", "b"),
    ],
)
def test_collection_presets_and_explicit_names(query, jobs, batches):
    store = make(f"mongodb://127.0.0.1:1/db{query}")
    assert (store.jobs.name, store.batches.name) == (jobs, batches)
    assert store.results.bucket_name == f"{jobs}_results"


def test_url_query_wins_over_options_and_own_options_do_not_reach_pymongo():
    store = make(
        "mongodb://127.0.0.1:1/db?log_cap=7&collections=legacy&appname=x",
        log_cap=99,
        collections="generic",
        gridfs_threshold=1234,
        synchronous="FULL",
    )
    assert store.log_cap == 7
    assert store.jobs.name == "event_jobs"
    assert store.results.threshold == 1234
    client_url, own, db = split_url("mongodb://h1:1,h2:2/db?collections=legacy&w=majority")
    assert own == {"collections": "legacy"} and db == "db"
    assert "collections" not in client_url and "w=majority" in client_url


def test_write_concern_from_url_and_unacknowledged_refused():
    assert make("mongodb://127.0.0.1:1/db?w=majority").db.write_concern.document == {
        "w": "majority"
    }
    with pytest.raises(StoreError, match="w=0"):
        make("mongodb://127.0.0.1:1/db?w=0")


def test_bad_preset_and_bad_url_are_store_errors():
    with pytest.raises(StoreError, match="collections"):
        make("mongodb://127.0.0.1:1/db?collections=nope")
    with pytest.raises(StoreError):
        make("mongodb+srv://example.invalid:27017/db")  # srv URLs take no port


def test_password_is_masked_in_url():
    store = make("mongodb://user:secret@127.0.0.1:1/db")
    assert "secret" not in store.url and "user:***@127.0.0.1:1" in store.url
