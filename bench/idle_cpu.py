"""CPU of an idle typed worker beside jobs it cannot claim (issue 17).

Fills a store with ``--n`` jobs no worker of ``--types bench.noop`` may claim (half of another
type, due now; half of its own type, delayed by an hour), starts one real
``jobworker run --types bench.noop --processes 1`` process and measures its CPU time (process
tree, psutil) over ``--seconds``. Usage::

    .venv/bin/python bench/idle_cpu.py [--n 6000] [--seconds 10] [--mongo mongodb://host/db]

Without ``--mongo`` only the SQLite store is measured; ``--mongo`` adds a MongoDB store (its
database is dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jobworker.model import Job, JobParameters, utcnow  # noqa: E402
from jobworker.store import open_store  # noqa: E402


def fill(url: str, n: int) -> None:
    store = open_store(url)
    try:
        later = utcnow() + timedelta(hours=1)
        other = [Job("other.type", JobParameters.from_dict({})) for _ in range(n // 2)]
        delayed = [
            Job("bench.noop", JobParameters.from_dict({}), available_at=later)
            for _ in range(n - n // 2)
        ]
        for chunk in range(0, len(other), 250):
            store.enqueue(other[chunk : chunk + 250])
        for chunk in range(0, len(delayed), 250):
            store.enqueue(delayed[chunk : chunk + 250])
    finally:
        store.close()


def measure(url: str, seconds: float, cwd: Path) -> float:
    """Percent of one core used by the worker process tree over ``seconds``."""
    env = {**os.environ, "PYTHONPATH": str(HERE), "JOBWORKER_PLUGINS": ""}
    command = [
        sys.executable,
        "-m",
        "jobworker",
        "--store",
        url,
        "--plugin",
        "benchjobs",
        "run",
        "--types",
        "bench.noop",
        "--processes",
        "1",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        time.sleep(3.0)  # start-up (imports, first claim) is not idle time

        def cpu() -> float:
            root = psutil.Process(proc.pid)
            total = 0.0
            for p in [root, *root.children(recursive=True)]:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            return total

        before, start = cpu(), time.monotonic()
        time.sleep(seconds)
        return (cpu() - before) / (time.monotonic() - start) * 100
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mongo", help="a MongoDB URL with a database name to use and drop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{tmp}/idle.db")]
        if args.mongo:
            urls.append(("MongoDB", args.mongo))
        print(f"| store | unclaimable jobs | idle worker CPU (% of one core, {args.seconds:g} s) |")
        print("|---|---|---|")
        for name, url in urls:
            fill(url, args.n)
            try:
                percent = measure(url, args.seconds, Path(tmp))
            finally:
                if url.startswith("mongodb"):
                    from jobworker.store.mongo import MongoStore

                    with MongoStore(url) as mongo:
                        mongo.drop_database()
            print(f"| {name} | {args.n} | {percent:.2f} |", flush=True)


if __name__ == "__main__":
    main()
