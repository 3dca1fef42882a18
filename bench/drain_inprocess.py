"""Drain N no-op jobs with an in-process burst worker (SQLite store) and print its CPU time per
job; the jobs are stored by a child process first, so a profiler or callgrind attached to this
process sees the worker alone. Used by ``bench/instructions_per_job.sh``.

    .venv/bin/python bench/drain_inprocess.py N
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchjobs  # noqa: E402  (bench/ on the path first)
from jobworker.logs import configure_logging  # noqa: E402
from jobworker.testing import WorkerHarness  # noqa: E402

STORE = """
import sys
sys.path.insert(0, {here!r})
import benchjobs
from jobworker.testing import WorkerHarness
h = WorkerHarness({folder!r}, plugins=[benchjobs])
for start in range(0, {n}, 5000):
    h.store.enqueue([h.client.build_job("bench.noop") for _ in range(min(5000, {n} - start))])
h.close()
"""


def main() -> None:
    n = int(sys.argv[1])
    configure_logging("warning")
    with tempfile.TemporaryDirectory() as folder:
        code = STORE.format(here=str(HERE), folder=folder, n=n)
        subprocess.run([sys.executable, "-c", code], check=True)
        with WorkerHarness(folder, plugins=[benchjobs]) as harness:
            worker = harness.worker(burst=True)
            cpu, wall = time.process_time(), time.perf_counter()
            asyncio.run(worker.run())
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if worker.processed != n:
            raise SystemExit(f"processed {worker.processed} of {n} jobs")
        print(f"{n} jobs: {cpu / max(n, 1) * 1e6:.0f} us CPU per job, {n / wall:.0f} jobs/s")


if __name__ == "__main__":
    main()
