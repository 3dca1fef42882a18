"""Processed jobs/s at ``synchronous=NORMAL`` and ``FULL``, with and without group syncs.

Each repetition drains N no-op jobs three times, one mode after the other (so the machine's
drift hits every mode alike): ``NORMAL``; ``FULL`` (commits synced in groups by a sync thread,
the default); ``FULL`` with ``group_sync=false`` (SQLite syncs each commit under the write
lock). Two worker processes (``jobworker run --processes 2 --burst``) drain a backlog stored
beforehand; the rate is taken between the first and the last job's start, as each job records
it. ``--slow-sync-us`` makes every sync of the workers that much slower (an ``LD_PRELOAD``
shim built from ``bench/slowsync/slowsync.c``, needs gcc): a disk whose syncs take
milliseconds, as this machine's did on some nights, instead of the tens of microseconds it
often has. Usage::

    .venv/bin/python bench/bench_durability.py [--n 5000] [--reps 3] [--slow-sync-us 2500]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchjobs  # noqa: E402
from jobworker import connect  # noqa: E402
from jobworker.testing import make_plugins  # noqa: E402

MODES = {
    "NORMAL": "",
    "FULL (group syncs)": "?synchronous=FULL",
    "FULL (group_sync=false)": "?synchronous=FULL&group_sync=false",
}


def drain(n: int, query: str, preload: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="jobworker-durability-") as tmp:
        db, record = Path(tmp) / "bench.db", Path(tmp) / "record"
        with connect(f"sqlite:///{db}", plugins=make_plugins([benchjobs])) as client:
            client.submit_batch(
                [{"job_type": "bench.noop", "parameters": {"record": str(record)}}] * n
            )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "JOBWORKER_PLUGINS": "",
            **preload,
        }
        subprocess.run(
            [
                *(sys.executable, "-m", "jobworker", "--store", f"sqlite:///{db}{query}"),
                *("--plugin", "benchjobs", "run", "--processes", "2", "--burst"),
                *("--log-level", "warning"),
            ],
            cwd=tmp,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        starts = sorted(float(line.split()[1]) for line in record.read_text().splitlines())
        assert len(starts) == n, f"{len(starts)} of {n} jobs ran"
        return (n - 1) / (starts[-1] - starts[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--slow-sync-us", type=int, default=0, help="added to every sync")
    args = parser.parse_args()
    preload: dict[str, str] = {}
    if args.slow_sync_us:
        built = subprocess.run(
            ["bash", str(HERE / "slowsync" / "build.sh")], check=True, capture_output=True
        )
        preload = {
            "LD_PRELOAD": built.stdout.decode().strip(),
            "SLOWSYNC_US": str(args.slow_sync_us),
        }
    load = os.getloadavg()
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.reps):
        for mode, query in MODES.items():
            rates[mode].append(drain(args.n, query, preload))
    normal = statistics.median(rates["NORMAL"])
    print(
        f"CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, load average at start {load[0]:.2f}, at end "
        f"{os.getloadavg()[0]:.2f}; {args.n} no-op jobs, 2 worker processes, median of "
        f"{args.reps}; syncs slowed by {args.slow_sync_us} µs"
    )
    print("| mode | processed jobs/s (each repetition) | of NORMAL |")
    print("|---|---:|---:|")
    for mode, values in rates.items():
        median = statistics.median(values)
        each = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {mode} | {median:,.0f} ({each}) | {median / normal:.2f}x |")


if __name__ == "__main__":
    main()
