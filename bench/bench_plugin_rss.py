"""Memory a worker process pays for installed plugins before any job of theirs runs.

For each installed plugin (entry point group ``jobworker``), a fresh interpreter imports what a
worker imports (its logging set up first, then ``jobworker.worker``), then loads that plugin as
the worker does, and reports the resident set size added and which heavy libraries were
imported; then one interpreter with every plugin loaded. Usage::

    .venv/bin/python bench/bench_plugin_rss.py
"""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys

HEAVY = ["av", "numpy", "pypdf", "pypdfium2", "PIL", "pytesseract", "lxml", "jinja2", "yaml"]

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


def main() -> None:
    print("| plugin | RSS added at load (MiB) | heavy libraries imported at load |")
    print("|---|---:|---|")
    for ep in sorted(md.entry_points(group="jobworker"), key=lambda e: e.name):
        base, after, heavy = probe(ep.value)
        print(f"| {ep.name} | {after - base:.1f} | {', '.join(heavy) or '-'} |")
    base, after, heavy = probe("*")
    print(f"| all of them | {after - base:.1f} | {', '.join(heavy)} |")
    print(f"\nworker imports alone: {base:.1f} MiB RSS; with every plugin: {after:.1f} MiB")


if __name__ == "__main__":
    main()
