"""Every query the SQLite store runs on ``jobs`` is served by an index: no statement of a
worker's or a client's operations reads the table row by row. Pending jobs are only in the two
partial indexes of pending jobs (``jobs_ready``, ``jobs_delayed``), the others only in
``jobs_taken``; SQLite uses a partial index only for a query that repeats its condition, so a
query that forgets it would scan the table, which is what this test catches."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from jobworker.model import Batch, Job, JobStatus, utcnow
from jobworker.store import Claim, Outcome, open_store


def _plans(conn: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """Each statement that reads ``jobs``, with its query plan."""
    plans = {}
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "UPDATE", "DELETE", "WITH") and " jobs" in sql:
            plans[sql] = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    return plans


def test_no_statement_of_the_store_scans_the_jobs_table(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/plans.db")
    conn = store._conn
    later = utcnow() + timedelta(hours=1)
    try:
        store.enqueue([Job("a") for _ in range(300)] + [Job("b") for _ in range(300)])
        store.enqueue([Job("a", available_at=later) for _ in range(100)])
        batch = Batch()
        store.enqueue([Job("a") for _ in range(50)], batch)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        now = utcnow()
        claimed = store.claim(Claim("w", 0.001, 40, ["a", "b"], {"b": 5}, {"a": 30}), now)
        store.finish([Outcome(j.job_id, "w", "completed", results={}) for j in claimed[:10]], now)
        store.recover_expired(utcnow() + timedelta(seconds=5))
        store.count_by_status()
        store.count_by_status(job_type="a")
        store.count_by_status(batch_id=batch.batch_id)
        for status in (JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.PENDING):
            store.list_jobs(status=status, limit=10)
        store.next_available_at(["a", "b"], utcnow())
        store.next_available_at(None, utcnow())
        store.next_available_at()
        assert store.pending_types() == {"a", "b"}
        failed = store.fail_pending({"b": "nobody serves b"}, utcnow(), limit=20)
        store.purge(before=utcnow() + timedelta(days=1), statuses=[JobStatus.FAILED], dry_run=True)
        conn.set_trace_callback(None)
        plans = _plans(conn, statements)
        assert len(plans) >= 12, list(plans)
        scans = {
            sql: plan
            for sql, plan in plans.items()
            if any(step.startswith("SCAN jobs") and "INDEX" not in step for step in plan)
        }
        assert not scans, scans
        # and the answers are the whole truth: pending jobs counted through both indexes
        assert len(claimed) == 35 and len(failed) == 20  # 30 of a (its cluster limit), 5 of b
        counts = store.count_by_status()
        assert counts["pending"] == 750 - 10 - 20  # the 25 expired leases are pending again
        assert counts["completed"] == 10 and counts["failed"] == 20
        assert store.next_available_at(["a"], utcnow()) is not None
    finally:
        store.close()


def test_pending_jobs_are_not_in_the_index_of_jobs_that_left_pending(tmp_path):
    """One index entry fewer per submit: ``jobs_taken`` has the claimed job only; a file made
    by a version with ``jobs_type_claim`` (every job, pending ones too) loses that index."""
    path = tmp_path / "old.db"
    store = open_store(f"sqlite:///{path}")
    store.enqueue([Job("t") for _ in range(3)])
    store.claim(Claim("w", 30, 1, ["t"]), utcnow())
    store.close()
    old = sqlite3.connect(path)
    old.execute(
        "CREATE INDEX jobs_type_claim ON jobs (status, job_type, priority DESC, created_at)"
    )
    old.commit()
    old.close()
    store = open_store(f"sqlite:///{path}")
    try:
        names = {r[0] for r in store._conn.execute("SELECT name FROM sqlite_master")}
        assert "jobs_taken" in names and "jobs_type_claim" not in names
        store._conn.execute("ANALYZE jobs")
        stats = dict(store._conn.execute("SELECT idx, stat FROM sqlite_stat1"))
        assert stats["jobs_taken"].split()[0] == "1"  # the one claimed job
        assert stats["jobs_ready"].split()[0] == "2"
        assert store.count_by_status(job_type="t") == {
            **{s.value: 0 for s in JobStatus},
            "pending": 2,
            "processing": 1,
        }
    finally:
        store.close()
