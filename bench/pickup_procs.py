"""Pickup latency of idle ``jobworker run --processes N`` workers, one job at a time.

The job records its own start time (``bench/benchjobs.py``); the latency is that minus the
time read right before the submit call, as the peers harness measures it. A random pause of
0-100 ms between jobs keeps arrivals off any timer. Usage::

    .venv/bin/python bench/pickup_procs.py [--processes 2] [--jobs 150]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchjobs  # noqa: E402
from jobworker import connect  # noqa: E402
from jobworker.testing import make_plugins  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobworker-pickup-") as tmp:
        db, record = Path(tmp) / "p.db", Path(tmp) / "record"
        client = connect(f"sqlite:///{db}", plugins=make_plugins([benchjobs]))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "JOBWORKER_PLUGINS": "",
        }
        workers = subprocess.Popen(
            [
                *(sys.executable, "-m", "jobworker", "--store", f"sqlite:///{db}"),
                *("--plugin", "benchjobs", "run", "--processes", str(args.processes)),
                *("--log-level", "warning"),
            ],
            env=env,
            cwd=tmp,
        )
        try:
            time.sleep(2.0)  # started and idle
            latencies = []
            for _ in range(args.jobs + 5):
                seen = len(record.read_text().splitlines()) if record.exists() else 0
                before = time.time()
                client.submit("bench.noop", {"record": str(record)})
                while True:
                    lines = record.read_text().splitlines() if record.exists() else []
                    if len(lines) > seen:
                        latencies.append(float(lines[-1].split()[1]) - before)
                        break
                    time.sleep(0.0002)
                time.sleep(random.uniform(0, 0.1))
        finally:
            workers.terminate()
            workers.wait(30)
            client.close()
    ms = sorted(x * 1000 for x in latencies[5:])
    print(
        f"--processes {args.processes}: pickup p50 {statistics.median(ms):.2f} ms, "
        f"p90 {ms[int(len(ms) * 0.9)]:.2f} ms ({len(ms)} jobs)"
    )


if __name__ == "__main__":
    main()
