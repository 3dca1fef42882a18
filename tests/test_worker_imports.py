"""A worker process imports what processing jobs needs and no more (its memory: RSS per worker
in docs/benchmarks.md): no server, HTTP client, templates or table-drawing before a job needs
them. No timing or memory figure is asserted, only which modules are loaded."""

from __future__ import annotations

import os
import subprocess
import sys

from cli_modules import run_cli, with_parents

# Loaded when a job needs them (a webhook delivery, a parameter class, a traceback on a
# terminal), by other commands (serve, keys, list) or never in a worker.
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


def test_a_worker_process_imports_no_server_http_or_rich(tmp_path):
    store = f"sqlite:///{tmp_path / 'q.db'}"
    done, modules = run_cli(
        tmp_path, "--store", store, "run", "--burst", JOBWORKER_PLUGINS="wordstats"
    )
    loaded = with_parents(modules)
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
