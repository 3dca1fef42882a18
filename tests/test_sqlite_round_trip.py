"""The SQLite worker's round trips, counted statement by statement: jobs that end alike share
one ``UPDATE`` for their outcomes."""

from __future__ import annotations

import testjobs
from jobworker.model import JobStatus, normalise_results
from jobworker.testing import WorkerHarness


def test_jobs_that_end_alike_are_finished_by_shared_updates(tmp_path):
    statements: list[str] = []
    with WorkerHarness(tmp_path, plugins=[testjobs], concurrency=8) as h:
        ids = [h.client.submit("noop", {}).job_id for _ in range(40)]
        h.store._conn.set_trace_callback(statements.append)
        h.run_burst()
        h.store._conn.set_trace_callback(None)
        jobs = [h.client.get(i) for i in ids]
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}
    assert all(j.results == normalise_results(None) for j in jobs)
    ends = [s for s in statements if s.startswith("UPDATE jobs SET status = 'completed'")]
    assert ends, statements[:20]
    assert len(ends) < len(ids) / 2  # several outcomes per UPDATE (one per round trip, at best)
