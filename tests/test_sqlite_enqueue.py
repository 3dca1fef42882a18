"""SQLite enqueue writes a run of new jobs with one executemany: a duplicate id still fails the
whole call by name, and idempotency keys still see the jobs inserted earlier in the same call."""

from __future__ import annotations

import pytest
from jobworker.model import Batch, Job
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


def test_jobs_outside_batches_stay_out_of_the_batch_index_and_old_indexes_go(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    s = open_store(f"sqlite:///{path}")
    s.enqueue([Job("t"), Job("t")], Batch())
    s.enqueue([Job("t")])
    s.close()
    old = sqlite3.connect(path)  # a file from before: the indexes of earlier versions
    old.execute("CREATE INDEX jobs_lease ON jobs (status, lease_expires_at)")
    old.execute("CREATE INDEX jobs_batch ON jobs (batch_id, status)")
    old.commit()
    old.close()
    s = open_store(f"sqlite:///{path}")
    try:
        names = {r[0] for r in s._conn.execute("SELECT name FROM sqlite_master")}
        assert "jobs_in_batch" in names and not names & {"jobs_lease", "jobs_batch"}
        s._conn.execute("ANALYZE jobs")
        stats = dict(s._conn.execute("SELECT idx, stat FROM sqlite_stat1"))
        assert stats["jobs_in_batch"].split()[0] == "2"  # entries: the batch's two jobs
        assert stats["jobs_created"].split()[0] == "3"
        [batch] = s.list_batches()
        plan = s._conn.execute(
            "EXPLAIN QUERY PLAN SELECT status, count(*) FROM jobs WHERE batch_id = ? "
            "GROUP BY status",
            (batch.batch_id,),
        ).fetchall()
        assert "jobs_in_batch" in plan[0][-1]
        assert s.count_by_status(batch_id=batch.batch_id)["pending"] == 2
    finally:
        s.close()


def test_the_wal_is_checkpointed_every_10000_pages_unless_the_url_says(tmp_path):
    for url, pages in (
        (f"sqlite:///{tmp_path}/a.db", 10_000),
        (f"sqlite:///{tmp_path}/b.db?wal_autocheckpoint=500", 500),
    ):
        s = open_store(url)
        try:
            assert s._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == pages
        finally:
            s.close()


_KEY_LOOKUP = "EXPLAIN QUERY PLAN SELECT job_id FROM jobs WHERE idempotency_key = ?"


def _old_schema_file(path) -> None:
    """A file as versions before the partial index made it: the key a column ``UNIQUE``."""
    import sqlite3

    from jobworker.store.sqlite.schema import SCHEMA

    old = sqlite3.connect(path)
    old.executescript(
        SCHEMA.replace("idempotency_key TEXT,", "idempotency_key TEXT UNIQUE,").replace(
            "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (idempotency_key)\n"
            "    WHERE idempotency_key IS NOT NULL;",
            "",
        )
    )
    old.close()


@pytest.mark.parametrize("made_by", ["this version", "an older version"])
def test_idempotency_keys_are_unique_and_looked_up_by_an_index(tmp_path, made_by):
    import sqlite3

    path = tmp_path / "keys.db"
    if made_by == "an older version":
        _old_schema_file(path)
        before = sqlite3.connect(path)
        auto = [r for r in before.execute("PRAGMA index_list(jobs)") if r[3] == "u"]
        assert auto, "the old file has the column constraint's index"
        before.close()
    s = open_store(f"sqlite:///{path}")
    try:
        a = Job("t", idempotency_key="k")
        [first] = s.enqueue([a])
        [again] = s.enqueue([Job("t", idempotency_key="k")])
        assert again.job_id == first.job_id == a.job_id  # the first job comes back
        s.enqueue([Job("t"), Job("t")])  # no key: any number of them
        assert s.count_by_status()["pending"] == 3
        # the rule itself, below the store's lookup: a second row with the key is refused
        with pytest.raises(sqlite3.IntegrityError):
            s._conn.execute(
                "INSERT INTO jobs (job_id, job_type, status, created_at, updated_at, "
                "available_at, idempotency_key, doc) VALUES ('x', 't', 'pending', 0, 0, 0, "
                "'k', '{}')"
            )
        plan = " ".join(r[-1] for r in s._conn.execute(_KEY_LOOKUP, ("k",)))
        assert "USING" in plan and "INDEX" in plan and "SCAN" not in plan, plan
        s._conn.execute("ANALYZE jobs")
        stats = dict(s._conn.execute("SELECT idx, stat FROM sqlite_stat1"))
        assert stats["jobs_idempotency"].split()[0] == "1"  # only the job that has a key
        if made_by == "this version":
            # no index of the column constraint: no NULL entry per job without a key
            assert not [r for r in s._conn.execute("PRAGMA index_list(jobs)") if r[3] == "u"]
            assert "jobs_idempotency" in plan
    finally:
        s.close()
