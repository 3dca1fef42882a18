"""Claims by type are served by an index, however many jobs of other types are pending (SQLite:
the query plan and the number of SQLite VM steps per claim, which do not depend on time)."""

from __future__ import annotations

from jobworker.model import Job, utcnow
from jobworker.store import Claim, open_store


def claim_cost(store, types) -> tuple[int, list[str]]:
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
        [job] = store.claim(Claim("w", 30, 1, types), utcnow())
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_trace_callback(None)
    assert job.job_type in types
    update = next(s for s in statements if s.lstrip().startswith("UPDATE jobs SET status"))
    plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + update)]
    return steps[0], plan


def test_typed_claim_cost_does_not_grow_with_pending_jobs_of_other_types(tmp_path):
    empty = open_store(f"sqlite:///{tmp_path}/empty.db")
    crowded = open_store(f"sqlite:///{tmp_path}/crowded.db")
    try:
        empty.enqueue([Job("mine") for _ in range(3)])
        alone, plan = claim_cost(empty, ["mine", "also_mine"])
        assert any("USING INDEX jobs_type_claim" in p for p in plan), plan
        assert not any(p.startswith("SCAN jobs") and "INDEX" not in p for p in plan), plan
        # 50,000 older pending jobs of seven other types, then the claimable ones.
        for start in range(0, 50_000, 5_000):
            crowded.enqueue([Job(f"other{(start + i) % 7}") for i in range(5_000)])
        crowded.enqueue([Job("mine") for _ in range(3)])
        behind, plan = claim_cost(crowded, ["mine", "also_mine"])
        assert any("USING INDEX jobs_type_claim" in p for p in plan), plan
        assert behind <= alone + 2, (alone, behind)  # thousands of VM steps
        assert crowded.pending_types() == {"mine", *(f"other{i}" for i in range(7))}
    finally:
        empty.close()
        crowded.close()
