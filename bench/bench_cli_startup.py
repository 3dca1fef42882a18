"""Start-up time of the command line: ``jobworker --version`` and ``jobworker submit``.

Runs each command ``--runs`` times as a fresh process (interleaved with a bare ``python -c
pass`` as the floor), after one warm-up run that writes the byte-code caches, and prints the
median wall and CPU (user + system) time as a Markdown table. CPU time is the steadier figure
on a shared machine: wall time also counts waiting for a core.

    .venv/bin/python bench/bench_cli_startup.py [--runs 15] [--jobworker .venv/bin/jobworker]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--jobworker", default=str(Path(sys.executable).with_name("jobworker")))
    args = parser.parse_args()
    python = str(Path(args.jobworker).with_name("python"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte code cached after a first run
    with tempfile.TemporaryDirectory() as work:
        store = f"sqlite:///{Path(work) / 'q.db'}"
        commands = {
            "python -c pass (floor)": [python, "-c", "pass"],
            "jobworker --version": [args.jobworker, "--version"],
            "jobworker submit wordstats -p text=hi": [
                args.jobworker,
                "--store",
                store,
                "submit",
                "wordstats",
                "-p",
                "text=hi",
            ],
        }
        for argv in commands.values():  # warm: byte-code caches, the store's schema
            measure(argv, work, env)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                results[name].append(measure(argv, work, env))
    load = os.getloadavg()[0]
    print(f"{args.runs} runs each, load average {load:.2f}, {args.jobworker}")
    print()
    print("| command | wall, median (s) | CPU, median (s) |")
    print("|---|---:|---:|")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| `{name}` | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
