"""One-by-one submits with SQLite's WAL checkpoints where they are now, on a thread, and off.

A prototype for what is left of issue 16's one-by-one submit target (docs/benchmarks.md,
"Submitting"): the store as it is (a commit past ``wal_autocheckpoint`` pages runs the
checkpoint, and its syncs, on the submitting thread); the store opened with
``?wal_autocheckpoint=0`` and a thread of this script that runs ``PRAGMA
wal_checkpoint(PASSIVE)`` on a connection of its own every ``--interval`` seconds (SQLite
releases the GIL while it copies and syncs); and no checkpoint at all (the bound). jobs/s of
wall and CPU time (the thread's CPU included), medians of ``--reps``, the three alternating.
Usage::

    .venv/bin/python bench/bench_checkpoint_thread.py [--n 5000] [--reps 5] [--interval 0.2]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench_submit import BenchPlugin  # beside this script
from jobworker import connect
from jobworker.testing import make_plugins

MODES = {
    "autocheckpoint (as now)": "",
    "checkpoint thread": "?wal_autocheckpoint=0",
    "no checkpoint": "?wal_autocheckpoint=0",
}


def one_rep(mode: str, n: int, interval: float) -> tuple[float, float]:
    plugins = make_plugins([BenchPlugin()])
    with tempfile.TemporaryDirectory(prefix="jobworker-bench-ckpt-") as folder:
        path = Path(folder) / "submit.db"
        stop = threading.Event()

        def checkpoints() -> None:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            while not stop.wait(interval):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            db.close()

        with connect(f"sqlite:///{path}{MODES[mode]}", plugins=plugins) as client:
            thread = threading.Thread(target=checkpoints)
            if mode == "checkpoint thread":
                thread.start()
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                client.submit("bench", {"i": i, "t": time.time()})
            took = (time.perf_counter() - wall, time.process_time() - cpu)
            stop.set()
            if thread.is_alive():
                thread.join()
    return n / took[0], n / took[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000, help="one-by-one submits per run")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between checkpoints")
    args = parser.parse_args()
    load = os.getloadavg()
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.reps):
        for mode in MODES:
            runs[mode].append(one_rep(mode, args.n, args.interval))
    print(
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.n:,} submits, medians of {args.reps}"
    )
    print("| checkpoints | one-by-one jobs/s wall | CPU |")
    print("|---|---:|---:|")
    for mode, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"| {mode} | {wall:,.0f} | {cpu:,.0f} |")


if __name__ == "__main__":
    main()
