"""A worker process imports what processing jobs needs and no more (its memory: RSS per worker
in docs/benchmarks.md): no server, HTTP client, templates or table-drawing before a job needs
them. No timing or memory figure is asserted, only which modules are loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
sys.argv = ["jobworker", *json.loads(sys.argv[1])]
from jobworker.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""

# Loaded when a job needs them (a webhook delivery, a parameter class, a notebook of rich
# output), by other commands (serve, keys, list) or never in a worker.
NOT_IN_A_WORKER = {
    "rich",
    "pygments",
    "httpx",
    "litestar",
    "uvicorn",
    "jinja2",
    "pymongo",
    "cattrs",
    "packaging",
    "jobworker.server",
    "jobworker.net",
    "jobworker.cli.jobs",
    "jobworker.cli.serve",
    "jobworker.store.apikeys",
    "jobworker.store.mongo",
}


def run(tmp_path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        cwd=tmp_path,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    return done, {".".join(m.split(".")[: i + 1]) for m in modules for i in range(m.count(".") + 1)}


def test_a_worker_process_imports_no_server_http_or_rich(tmp_path):
    store = f"sqlite:///{tmp_path / 'q.db'}"
    done, loaded = run(tmp_path, "--store", store, "run", "--burst", JOBWORKER_PLUGINS="wordstats")
    assert "Traceback" not in done.stderr
    # It did run a worker, with the plugin: the list below is not trivially absent.
    assert {"jobworker.worker", "structlog", "asyncio", "worker_plugin_wordstats"} <= loaded
    assert not loaded & NOT_IN_A_WORKER


LOG_AN_ERROR = """
import sys
if sys.argv[1] == "rich-first":
    import rich.console, structlog  # structlog as any other program gets it: with Rich
from jobworker.logs import configure_logging
configure_logging("info", json=False)
import structlog
print("rich loaded" if "rich" in sys.modules else "no rich", file=sys.stderr)

def divide(numerator):
    answer = 42
    return numerator / 0

def main():
    try:
        divide(7)
    except ZeroDivisionError:
        structlog.get_logger("jobworker.worker").exception("job failed", job_id="job-1")

main()
print("rich loaded" if "rich" in sys.modules else "no rich", file=sys.stderr)
"""


def test_a_worker_logs_tracebacks_with_rich_as_before_without_loading_it_first(tmp_path):
    def logged(mode: str) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        done = subprocess.run(
            [sys.executable, "-c", LOG_AN_ERROR, mode],
            cwd=tmp_path,
            env={**env, "COLUMNS": "100"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stderr.splitlines()

    lean, usual = logged("worker"), logged("rich-first")
    assert lean[0] == "no rich" and lean[-1] == "rich loaded"  # imported for the traceback
    assert usual[0] == "rich loaded"
    # The same lines as structlog's own Rich formatter (after the first: it has the time).
    assert lean[2:-1] == usual[2:-1]
    text = "\n".join(lean)
    assert "job failed" in lean[1] and "ZeroDivisionError" in text
    assert "Traceback" in text and "answer = 42" in text  # Rich's box, with the locals
