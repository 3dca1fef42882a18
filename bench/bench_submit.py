"""The submit path into SQLite: ``submit_batch`` of many jobs and one-by-one ``submit``.

Each repetition opens a fresh SQLite file (WAL, synchronous=NORMAL, the defaults) and submits
jobs of a type with an attrs parameters class, as ``bench/peers/peer_jobworker.py`` does
(``{"i": i, "t": t}``). It reports jobs/s of wall time and of the process's CPU time (the
machine is shared; CPU time moves less with its load), median of ``--reps``. Usage::

    .venv/bin/python bench/bench_submit.py [--batch 10000] [--single 5000] [--reps 5]
        [--query '?wal_autocheckpoint=1000000']

``--query`` is appended to the store URLs (store options, e.g. checkpoints off, to see what the
WAL checkpoints' syncs add to the wall time).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from jobworker import JobHandler, connect, hookimpl
from jobworker.testing import make_plugins


@attrs.define
class Params:
    i: int
    t: float


async def bench(ctx: object) -> None:
    return None


class BenchPlugin:
    @hookimpl
    def register_job_handlers(self, register: Callable[[JobHandler], None]) -> None:
        register(JobHandler("bench", bench, params=Params))


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def one_rep(
    folder: Path, batch_n: int, single_n: int, query: str = ""
) -> dict[str, tuple[float, float]]:
    plugins = make_plugins([BenchPlugin()])
    out: dict[str, tuple[float, float]] = {}
    with connect(f"sqlite:///{folder / 'batch.db'}{query}", plugins=plugins) as client:
        specs = [
            {"job_type": "bench", "parameters": {"i": i, "t": time.time()}} for i in range(batch_n)
        ]
        out["batch"] = timed(lambda: client.submit_batch(specs))
        assert client.counts()["pending"] == batch_n
    with connect(f"sqlite:///{folder / 'single.db'}{query}", plugins=plugins) as client:
        submit = client.submit

        def singles() -> None:
            for i in range(single_n):
                submit("bench", {"i": i, "t": time.time()})

        out["single"] = timed(singles)
        assert client.counts()["pending"] == single_n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000, help="jobs in one submit_batch")
    parser.add_argument("--single", type=int, default=5_000, help="one-by-one submits")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--query", default="", help="appended to the store URLs")
    args = parser.parse_args()
    load = os.getloadavg()
    runs = []
    for _ in range(args.reps):
        with tempfile.TemporaryDirectory(prefix="jobworker-bench-submit-") as tmp:
            runs.append(one_rep(Path(tmp), args.batch, args.single, args.query))
    print(
        f"{platform.python_implementation()} {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {args.reps} reps"
        + (f"; store URLs end with {args.query}" if args.query else "")
    )
    print("| measure | jobs/s wall | jobs/s CPU | µs CPU per job |")
    print("|---|---:|---:|---:|")
    for key, n, label in (
        ("batch", args.batch, f"one submit_batch of {args.batch:,} jobs"),
        ("single", args.single, f"{args.single:,} one-by-one submits"),
    ):
        wall = statistics.median(r[key][0] for r in runs)
        cpu = statistics.median(r[key][1] for r in runs)
        print(f"| {label} | {n / wall:,.0f} | {n / cpu:,.0f} | {cpu / n * 1e6:.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
