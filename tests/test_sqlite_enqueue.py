"""SQLite enqueue writes a run of new jobs with one executemany: a duplicate id still fails the
whole call by name, and idempotency keys still see the jobs inserted earlier in the same call."""

from __future__ import annotations

import pytest
from jobworker.model import Job
from jobworker.store import StoreError, open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/jobs.db")
    yield s
    s.close()


def test_duplicate_id_in_the_store_fails_the_call_by_name(store):
    [first] = store.enqueue([Job("t")])
    fresh = [Job("t") for _ in range(3)]
    with pytest.raises(StoreError, match=f"job {first.job_id} already exists"):
        store.enqueue([*fresh, Job("t", job_id=first.job_id)])
    assert store.count_by_status()["pending"] == 1  # nothing of the failed call stayed


def test_duplicate_id_within_one_call_fails_it_by_name(store):
    job = Job("t")
    with pytest.raises(StoreError, match=f"job {job.job_id} already exists"):
        store.enqueue([job, Job("t"), Job("t", job_id=job.job_id)])
    assert store.count_by_status()["pending"] == 0


def test_idempotency_key_sees_a_job_inserted_earlier_in_the_same_call(store):
    a, b, c = Job("t", idempotency_key="k"), Job("t"), Job("t", idempotency_key="k")
    stored = store.enqueue([a, b, c])
    assert [j.job_id for j in stored] == [a.job_id, b.job_id, a.job_id]
    assert store.count_by_status()["pending"] == 2


def test_a_single_job_with_a_taken_id_fails_by_name(store):
    [first] = store.enqueue([Job("t")])
    with pytest.raises(StoreError, match=f"job {first.job_id} already exists"):
        store.enqueue([Job("t", job_id=first.job_id)])
    assert store.count_by_status()["pending"] == 1
