"""Does a worker's rate depend on how many pending jobs it cannot claim? (issue 16)

For each backlog size, a fresh store gets that many non-claimable jobs, in three equal parts:
jobs of types the worker does not serve (due now; another live worker in the registry serves
them), jobs of its own type delayed by an hour, and
jobs of a type it serves that is at its cluster-wide limit (``cluster_max_concurrent_per_type``
1, one job of it held by another worker). Then ``--n`` no-op jobs are submitted and one
``jobworker run --burst --processes 1 --types bench.noop,bench.capped`` process drains them. The
rate is n / (last completion - first start), from the store's own timestamps, so start-up and
the burst worker's final sweeps are not counted. Usage::

    .venv/bin/python bench/bench_backlog.py [--n 3000] [--sizes 0,10000,100000] [--reps 2]
        [--store sqlite | --store mongodb://127.0.0.1:PORT/db] [--out docs/benchmarks.md]

Sizes are interleaved within each repetition (background load hits all alike); the table shows
the median per size and its ratio to the empty store.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jobworker.fleet import WorkerRecord  # noqa: E402
from jobworker.model import Job, JobStatus, utcnow  # noqa: E402
from jobworker.store import Claim, open_store  # noqa: E402

TYPES = "bench.noop,bench.capped"


def fill(url: str, backlog: int, n: int) -> None:
    store = open_store(url)
    try:
        store.init()
        # The other types are served by another live worker of the fleet (a registry record),
        # so the unknown-type sweep leaves them pending, as in a fleet of different workers.
        other = WorkerRecord.here("elsewhere", "bench", utcnow(), 3600, 8)
        other.types = {f"other{i}": 8 for i in range(5)}
        store.register_worker(other)
        # One job of the capped type held by another worker: the type is at its cluster limit.
        store.enqueue([Job("bench.capped")])
        [held] = store.claim(Claim("elsewhere", 3600, 1, ["bench.capped"]), utcnow())
        assert held.status is JobStatus.PROCESSING
        later = utcnow() + timedelta(hours=1)
        third = backlog // 3
        kinds = [
            (third, lambda i: Job(f"other{i % 5}")),
            (third, lambda i: Job("bench.noop", available_at=later)),
            (backlog - 2 * third, lambda i: Job("bench.capped")),
        ]
        for count, make in kinds:
            for start in range(0, count, 10_000):
                store.enqueue([make(i) for i in range(start, min(count, start + 10_000))])
        store.enqueue([Job("bench.noop") for _ in range(n)])
    finally:
        store.close()


def drain(url: str, cwd: Path) -> None:
    (cwd / "jobworker.toml").write_text(
        '[worker]\ncluster_max_concurrent_per_type = { "bench.capped" = 1 }\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "JOBWORKER_PLUGINS": "",
    }
    run = ["run", "--burst", "--processes", "1", "--types", TYPES, "--log-level", "warning"]
    subprocess.run(
        [sys.executable, "-m", "jobworker", "--store", url, "--plugin", "benchjobs", *run],
        cwd=cwd,
        env=env,
        check=True,
        timeout=1800,
    )


def rate(url: str, n: int) -> float:
    store = open_store(url)
    try:
        jobs = [
            j
            for j in store.list_jobs(status=JobStatus.COMPLETED, limit=n + 10)
            if j.job_type == "bench.noop"
        ]
        assert len(jobs) == n, f"{len(jobs)} of {n} completed"
        first = min(j.processing_started_at for j in jobs).timestamp()
        last = max(j.completed_at.timestamp() for j in jobs)
        return n / (last - first)
    finally:
        store.close()


def one(store_arg: str, backlog: int, n: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="jobworker-backlog-"))
    if store_arg == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:  # a fresh database per run on the given server
        base, _, _ = store_arg.rpartition("/")
        url = f"{base}/jwbacklog_{os.getpid()}_{time.monotonic_ns()}"
    fill(url, backlog, n)
    drain(url, tmp)
    return rate(url, n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--sizes", default="0,10000,100000")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()[0]
    results: dict[int, list[float]] = {s: [] for s in sizes}
    for rep in range(args.reps):
        for size in sizes:
            results[size].append(one(args.store, size, args.n))
            print(f"rep {rep + 1} backlog {size:>7,}: {results[size][-1]:,.0f} jobs/s", flush=True)
    empty = statistics.median(results[sizes[0]])
    store_name = (
        "SQLite" if args.store == "sqlite" else "MongoDB (" + args.store.split("?")[0] + ")"
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}, store {store_name}, load average at start {load:.2f}.",
        f"Command: `.venv/bin/python bench/bench_backlog.py --n {args.n} --sizes {args.sizes} "
        f"--reps {args.reps} --store {args.store.split('?')[0]}`.",
        "",
        "| non-claimable pending jobs | jobs/s, median | runs | vs empty store |",
        "|---:|---:|---|---:|",
    ]
    for size in sizes:
        med = statistics.median(results[size])
        runs = ", ".join(f"{r:,.0f}" for r in results[size])
        lines.append(f"| {size:,} | {med:,.0f} | {runs} | {med / empty:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        marker = "bench_backlog_" + ("sqlite" if args.store == "sqlite" else "mongo")
        doc = args.out.read_text()
        start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
        if start in doc and end in doc:
            doc = doc[: doc.index(start) + len(start)] + "\n" + text + doc[doc.index(end) :]
        else:
            doc += f"\n{start}\n{text}{end}\n"
        args.out.write_text(doc)


if __name__ == "__main__":
    main()
