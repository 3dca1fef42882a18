"""The SQLite worker's round trips, counted statement by statement: jobs that end alike share
one ``UPDATE`` for their outcomes."""

from __future__ import annotations

from datetime import timedelta

import testjobs
from jobworker.model import JobStatus, normalise_results, utcnow
from jobworker.testing import WorkerHarness

ENDS = "UPDATE jobs SET status = 'completed'"


def drained(h: WorkerHarness, n: int) -> tuple[list[str], list[str]]:
    """Submit ``n`` no-op jobs, drain them with a burst worker; their ids, and the
    statements the store ran meanwhile (parameters filled in)."""
    statements: list[str] = []
    ids = [h.client.submit("noop", {}).job_id for _ in range(n)]
    h.store._conn.set_trace_callback(statements.append)
    h.run_burst()
    h.store._conn.set_trace_callback(None)
    return ids, statements


def test_jobs_that_end_alike_are_finished_by_shared_updates(tmp_path):
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=8) as h:
        ids, statements = drained(h, 40)
        jobs = [h.client.get(i) for i in ids]
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}
    assert all(j.results == normalise_results(None) for j in jobs)
    ends = [s for s in statements if s.startswith(ENDS)]
    assert ends, statements[:20]
    assert len(ends) < len(ids) / 2  # several outcomes per UPDATE (one per round trip, at best)


def test_ends_nothing_reacts_to_are_written_announced_without_a_second_write(tmp_path):
    """No hook observes the ends, no webhook, no batch: the outcome itself leaves
    ``announce_pending`` unset, and no round trip marks them afterwards."""
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=8) as h:
        ids, statements = drained(h, 24)
        assert h.store.unannounced(utcnow() + timedelta(hours=1)) == []
        pending = h.store._conn.execute("SELECT count(*) FROM jobs WHERE announce_pending = 1")
        assert pending.fetchone()[0] == 0
        assert {h.client.get(i).status for i in ids} == {JobStatus.COMPLETED}
    assert not [s for s in statements if s.startswith("UPDATE jobs SET announce_pending = 0")]
    ends = [s for s in statements if s.startswith(ENDS)]
    assert ends and all("announce_pending = 0" in s for s in ends)
