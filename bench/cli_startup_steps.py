"""Where the CPU time of ``jobworker submit wordstats -p text=hi`` goes: each step's in-process
CPU (``time.process_time``), importing in the order the command does, then the command itself;
medians of ``--runs`` fresh processes (byte-code caches warm).

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/cli_startup_steps.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

STEPS = (
    ("click", "import click"),
    ("`jobworker.cli` (the group, `State`, json)", "import jobworker.cli"),
    ("`jobworker.cli.jobs` (the model: attrs and its classes)", "import jobworker.cli.jobs"),
    ("`jobworker.plugins` (pluggy, hookspecs, handler)", "import jobworker.plugins"),
    (
        "`jobworker.client` (config, validation, store base, lifecycle, tempfile)",
        "import jobworker.client",
    ),
    ("`jobworker.store.sqlite` (sqlite3, hashlib, socket)", "import jobworker.store.sqlite"),
)
CHILD = """
import sys, time
marks = [time.process_time()]
for code in sys.argv[2:]:
    exec(code)
    marks.append(time.process_time())
import jobworker.cli
sys.argv = ["jobworker", "--store", sys.argv[1], "submit", "wordstats", "-p", "text=hi"]
try:
    jobworker.cli.main()
except SystemExit:
    pass
marks.append(time.process_time())
print(" ".join(f"{b - a:.6f}" for a, b in zip(marks, marks[1:])), marks[-1])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = [name for name, _ in STEPS] + [
        "the command (find and import the plugin, open, validate, insert, commit)"
    ]
    runs: list[list[float]] = []
    totals = []
    with tempfile.TemporaryDirectory() as work:
        store = f"sqlite:///{Path(work) / 'q.db'}"
        argv = [sys.executable, "-c", CHILD, store, *(code for _, code in STEPS)]
        for i in range(args.runs + 1):
            out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            *steps, total = out.stdout.split()[-(len(names) + 1) :]
            if i:  # the first run writes the byte-code caches and the store's schema
                runs.append([float(s) for s in steps])
                totals.append(float(total))
    print(f"{args.runs} runs, load average {os.getloadavg()[0]:.2f}")
    print()
    print("| step | CPU (ms) |")
    print("|---|---:|")
    for j, name in enumerate(names):
        print(f"| {name} | {statistics.median(r[j] for r in runs) * 1000:.1f} |")
    whole = statistics.median(totals) * 1000
    print(f"| the whole process (`process_time` at the end) | {whole:.1f} |")


if __name__ == "__main__":
    main()
