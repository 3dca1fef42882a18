"""CPU time of the SQLite store's ``finish`` per job: N no-op jobs claimed 8 at a time and
finished with the outcomes a worker writes for them (completed, no results), as one round trip
of a worker at concurrency 8 does. Compare checkouts with ``PYTHONPATH=OTHER/core/src``.

    .venv/bin/python bench/bench_finish.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchjobs
from jobworker.model import JobProgress, utcnow
from jobworker.store import Claim, Outcome
from jobworker.testing import WorkerHarness


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    with tempfile.TemporaryDirectory() as folder:
        harness = WorkerHarness(folder, plugins=[benchjobs])
        store = harness.store
        store.enqueue([harness.client.build_job("bench.noop") for _ in range(n)])
        spent = 0.0
        for _ in range(n // 8):
            jobs = store.claim(Claim("w1", 30, 8, None), utcnow())
            started = JobProgress("processing", 0, None)
            outcomes = [Outcome(j.job_id, "w1", "completed", progress=started) for j in jobs]
            cpu = time.process_time()
            done = store.finish(outcomes, utcnow())
            spent += time.process_time() - cpu
            if len(done) != len(jobs):
                raise SystemExit(f"finished {len(done)} of {len(jobs)} jobs")
        harness.close()
    print(f"finish: {spent / n * 1e6:.1f} us CPU per job")


if __name__ == "__main__":
    main()
