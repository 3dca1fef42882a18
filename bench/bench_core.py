"""Core benchmark on the SQLite store with 2 worker processes (``jobworker run --processes 2``).

Measures: enqueue jobs/s (one ``submit`` per job, and one ``submit_batch``), no-op processed
jobs/s (drain of a backlog), pickup latency p50/p95 of idle workers (0-500 ms random pauses
between jobs, so arrivals are not phase-locked to any timer), idle CPU of the worker processes,
and their RSS. Usage::

    .venv/bin/python bench/bench_core.py [--n 5000] [--latency-jobs 200] [--out docs/benchmarks.md]

Prints a Markdown table and, with ``--out``, replaces the section between the markers
``<!-- bench_core -->`` and ``<!-- /bench_core -->`` in that file.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchjobs  # noqa: E402
from jobworker import connect  # noqa: E402
from jobworker.testing import make_plugins  # noqa: E402


def start_workers(url: str, procs: int, cwd: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "JOBWORKER_PLUGINS": "",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobworker",
            "--store",
            url,
            "--plugin",
            "benchjobs",
            "run",
            "--processes",
            str(procs),
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_tree(sup: subprocess.Popen) -> list[psutil.Process]:
    root = psutil.Process(sup.pid)
    return [root, *root.children(recursive=True)]


def wait_for(predicate, timeout: float = 300.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError


def run(n: int, latency_jobs: int, procs: int, store: str | None) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="jobworker-bench-"))
    url = store or f"sqlite:///{tmp / 'bench.db'}"
    client = connect(url, plugins=make_plugins([benchjobs]))
    out: dict[str, float] = {}

    t0 = time.perf_counter()
    for _ in range(n):
        client.submit("bench.noop")
    out["enqueue_one_per_s"] = n / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    client.submit_batch([{"job_type": "bench.noop"} for _ in range(n)])
    out["enqueue_batch_per_s"] = n / (time.perf_counter() - t0)

    # Drain the 2n backlog with freshly started workers; rate from the store's own timestamps.
    sup = start_workers(url, procs, tmp)
    try:
        wait_for(lambda: client.store.count_by_status()["completed"] == 2 * n)
        jobs = client.store.list_jobs(limit=4 * n)
        first = min(j.processing_started_at for j in jobs).timestamp()
        done = sorted(j.completed_at.timestamp() for j in jobs)
        out["processed_per_s"] = 2 * n / (done[-1] - first)
        lo, hi = done[int(len(done) * 0.05)], done[int(len(done) * 0.95)]
        out["processed_steady_per_s"] = (len(done) * 0.9) / max(hi - lo, 1e-9)

        # Pickup latency of idle workers.
        record = tmp / "record"
        time.sleep(1.0)
        lat = []
        for i in range(latency_jobs + 5):
            time.sleep(random.uniform(0, 0.5))
            t_enqueue = time.time()
            job_id = client.submit("bench.noop", {"record": str(record)}).job_id
            wait_for(lambda j=job_id: record.exists() and j in record.read_text(), 30, 0.0005)
            started = float(record.read_text().splitlines()[-1].split()[1])
            if i >= 5:
                lat.append((started - t_enqueue) * 1000)
        lat.sort()
        out["pickup_p50_ms"] = statistics.median(lat)
        out["pickup_p95_ms"] = lat[int(len(lat) * 0.95) - 1]

        # Idle CPU and memory of the whole worker tree.
        procs_list = worker_tree(sup)
        before = sum(p.cpu_times().user + p.cpu_times().system for p in procs_list)
        time.sleep(10)
        after = sum(p.cpu_times().user + p.cpu_times().system for p in worker_tree(sup))
        out["idle_cpu_percent_of_core"] = (after - before) / 10 * 100
        workers = [p for p in worker_tree(sup) if p.pid != sup.pid]
        out["rss_per_worker_mib"] = statistics.mean(p.memory_info().rss for p in workers) / 2**20
        out["rss_total_mib"] = sum(p.memory_info().rss for p in worker_tree(sup)) / 2**20
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(30)
        client.close()
    return out


LABELS = [
    ("enqueue_one_per_s", "enqueue, one submit per job (jobs/s)", "{:,.0f}"),
    ("enqueue_batch_per_s", "enqueue, one submit_batch (jobs/s)", "{:,.0f}"),
    ("processed_per_s", "no-op processed, 2 processes (jobs/s)", "{:,.0f}"),
    ("processed_steady_per_s", "same, steady 5-95 % (jobs/s)", "{:,.0f}"),
    ("pickup_p50_ms", "pickup latency p50, idle workers (ms)", "{:.1f}"),
    ("pickup_p95_ms", "pickup latency p95 (ms)", "{:.1f}"),
    ("idle_cpu_percent_of_core", "idle CPU, supervisor + 2 workers (% of one core)", "{:.2f}"),
    ("rss_per_worker_mib", "RSS per worker process (MiB)", "{:.0f}"),
    ("rss_total_mib", "RSS of supervisor + workers (MiB)", "{:.0f}"),
]


def report(results: dict[str, float], n: int, latency_jobs: int, store: str | None) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}, "
        f"load average at start {os.getloadavg()[0]:.2f}.",
        f"Command: `.venv/bin/python bench/bench_core.py --n {n} --latency-jobs {latency_jobs}"
        f"{' --store ' + _mask(store) if store else ''}` (backlog drained: {2 * n} jobs; "
        f"store: {_mask(store) if store else 'SQLite in a temporary folder, synchronous=NORMAL'}).",
        "",
        "| measure | value |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {fmt.format(results[key])} |" for key, label, fmt in LABELS]
    return "\n".join(lines) + "\n"


def _mask(url: str | None) -> str:
    return (url or "").split("?")[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument(
        "--store",
        help="store URL (default: a fresh SQLite file); e.g. "
        "sqlite:///x.db?synchronous=FULL or mongodb://...",
    )
    parser.add_argument(
        "--section", default="bench_core", help="marker name of the section to replace in --out"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(
        run(args.n, args.latency_jobs, args.procs, args.store),
        args.n,
        args.latency_jobs,
        args.store,
    )
    print(text)
    if args.out:
        doc = args.out.read_text() if args.out.exists() else ""
        start, end = f"<!-- {args.section} -->", f"<!-- /{args.section} -->"
        if start in doc and end in doc:
            doc = doc[: doc.index(start) + len(start)] + "\n" + text + doc[doc.index(end) :]
        else:
            doc += f"\n{start}\n{text}{end}\n"
        args.out.write_text(doc)


if __name__ == "__main__":
    main()
