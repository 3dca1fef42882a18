"""Claims by type are served by indexes, however many jobs they cannot take are pending: of other
types, of their own type but not due yet, of a type at its cluster-wide limit (SQLite: the query
plan and the number of SQLite VM steps per claim, which do not depend on time)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from jobworker.model import Job, utcnow
from jobworker.store import Claim, open_store


def claim_cost(store, types, limits=None) -> tuple[int, list[str]]:
    """SQLite VM steps (in thousands) of one claim, and the plan of its UPDATE."""
    conn = store._conn
    statements: list[str] = []
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_trace_callback(statements.append)
    conn.set_progress_handler(count, 1000)
    try:
        [job] = store.claim(Claim("w", 30, 1, types, {}, limits or {}), utcnow())
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_trace_callback(None)
    assert job.job_type in types
    update = next(s for s in statements if s.lstrip().startswith("UPDATE jobs SET status"))
    plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + update)]
    return steps[0], plan


def served(plan: list[str]) -> bool:
    """Both partial claim indexes searched, no table scan."""
    return (
        any("USING INDEX jobs_ready" in p for p in plan)
        and any("USING INDEX jobs_delayed" in p for p in plan)
        and not any(p.startswith("SCAN jobs") for p in plan)
    )


def test_typed_claim_cost_does_not_grow_with_pending_jobs_of_other_types(tmp_path):
    empty = open_store(f"sqlite:///{tmp_path}/empty.db")
    crowded = open_store(f"sqlite:///{tmp_path}/crowded.db")
    try:
        empty.enqueue([Job("mine") for _ in range(3)])
        alone, plan = claim_cost(empty, ["mine", "also_mine"])
        assert served(plan), plan
        assert not any(p.startswith("SCAN jobs") and "INDEX" not in p for p in plan), plan
        # 50,000 older pending jobs of seven other types, then the claimable ones.
        for start in range(0, 50_000, 5_000):
            crowded.enqueue([Job(f"other{(start + i) % 7}") for i in range(5_000)])
        crowded.enqueue([Job("mine") for _ in range(3)])
        behind, plan = claim_cost(crowded, ["mine", "also_mine"])
        assert served(plan), plan
        assert behind <= alone + 2, (alone, behind)  # thousands of VM steps
        assert crowded.pending_types() == {"mine", *(f"other{i}" for i in range(7))}
    finally:
        empty.close()
        crowded.close()


@pytest.mark.parametrize("backlog", ["delayed", "at_cluster_limit", "retry_backoff"])
def test_typed_claim_cost_does_not_grow_with_jobs_it_cannot_claim_yet(tmp_path, backlog):
    """30,000 older pending jobs the claim must pass over: its own type delayed by an hour (as
    submitted, or waiting out a retry's backoff), or a type at its cluster-wide limit."""
    empty = open_store(f"sqlite:///{tmp_path}/empty.db")
    crowded = open_store(f"sqlite:///{tmp_path}/crowded.db")
    limits = {"capped": 1}
    try:
        for store in (empty, crowded):  # one capped job running: the type is at its limit
            store.enqueue([Job("capped")])
            store.claim(Claim("elsewhere", 3600, 1, ["capped"]), utcnow())
        empty.enqueue([Job("mine") for _ in range(3)])
        alone, plan = claim_cost(empty, ["mine", "capped"], limits)
        assert served(plan), plan
        later = utcnow() + timedelta(hours=1)
        for _ in range(3):  # 30,000 in chunks
            if backlog == "delayed":
                crowded.enqueue([Job("mine", available_at=later) for _ in range(10_000)])
            elif backlog == "at_cluster_limit":
                crowded.enqueue([Job("capped") for _ in range(10_000)])
            else:  # claimed, failed, now pending again with available_at in the future
                crowded.enqueue([Job("mine") for _ in range(10_000)])
                crowded._conn.execute(
                    "UPDATE jobs SET attempts = 1, available_at = ? WHERE job_type = 'mine'",
                    (int(later.timestamp() * 1000),),
                )
        crowded.enqueue([Job("mine") for _ in range(3)])
        behind, plan = claim_cost(crowded, ["mine", "capped"], limits)
        assert served(plan), plan
        assert behind <= alone + 2, (alone, behind)  # thousands of VM steps
    finally:
        empty.close()
        crowded.close()
