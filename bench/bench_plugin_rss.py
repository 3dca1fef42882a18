"""Memory a worker process pays for installed plugins before any job of theirs runs.

For each installed plugin (entry point group ``jobworker``), a fresh interpreter imports what a
worker imports (its logging set up first, then ``jobworker.worker``), then loads that plugin as
the worker does, and reports the resident set size added and which heavy libraries were
imported; then one interpreter with every plugin loaded. Last, a real idle worker: ``jobworker
run --processes 1`` on a temporary SQLite store for ``--seconds`` (past its first 10 s check for
plugin changes), with every installed plugin and with none (``JOBWORKER_PLUGINS=""``), and the
peak RSS (``VmHWM``) of its process and any child. Usage::

    .venv/bin/python bench/bench_plugin_rss.py [--seconds 12]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = [
    "av",
    "numpy",
    "pypdf",
    "pypdfium2",
    "PIL",
    "pytesseract",
    "lxml",
    "jinja2",
    "yaml",
    "pydub",
]

PROBE = """
import json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
from jobworker.logs import configure_logging
configure_logging("info", json=True)  # first, as `jobworker run` does (structlog without Rich)
import jobworker.worker
from jobworker.plugins import Plugins
base = rss()
only = sys.argv[1]
if only == "*":
    Plugins.load()
else:
    Plugins.load(entry_points=False).load_module(only)
print(json.dumps({"base": base, "after": rss(), "heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def probe(target: str) -> tuple[float, float, list[str]]:
    """(RSS after the worker's imports, RSS after loading ``target``, heavy modules loaded)."""
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    out = subprocess.run(
        [sys.executable, "-c", code, target], capture_output=True, text=True, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return float(r["base"]), float(r["after"]), list(r["heavy"])


def _peak_kib(pid: int) -> int:
    """``VmHWM`` (peak resident set) of a live process, in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def idle_worker(seconds: float, plugins: str | None) -> tuple[float, int]:
    """(the largest peak RSS in MiB among an idle worker's processes, how many there were)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    if plugins is not None:
        env["JOBWORKER_PLUGINS"] = plugins
    with tempfile.TemporaryDirectory() as tmp:
        env["JOBWORKER_STORE"] = f"sqlite:///{tmp}/jobs.db"
        worker = subprocess.Popen(
            [Path(sys.executable).with_name("jobworker"), "run", "--processes", "1"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peaks: dict[int, int] = {}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and worker.poll() is None:
            for pid in [worker.pid, *_children(worker.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    return max(peaks.values()) / 1024, len(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="idle worker run time")
    args = parser.parse_args()
    print("| plugin | RSS added at load (MiB) | heavy libraries imported at load |")
    print("|---|---:|---|")
    for ep in sorted(md.entry_points(group="jobworker"), key=lambda e: e.name):
        base, after, heavy = probe(ep.value)
        print(f"| {ep.name} | {after - base:.1f} | {', '.join(heavy) or '-'} |")
    base, after, heavy = probe("*")
    print(f"| all of them | {after - base:.1f} | {', '.join(heavy) or '-'} |")
    print(f"\nworker imports alone: {base:.1f} MiB RSS; with every plugin: {after:.1f} MiB")
    for label, plugins in (("every installed plugin", None), ("no plugin", "")):
        peak, processes = idle_worker(args.seconds, plugins)
        print(
            f"idle `jobworker run --processes 1`, {label}: peak RSS {peak:.1f} MiB "
            f"({processes} process{'es' if processes > 1 else ''}, {args.seconds:g} s)"
        )


if __name__ == "__main__":
    main()
