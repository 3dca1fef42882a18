"""``jobworker run``: one worker process, or N under a small supervisor (``--processes``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import click

from .common import State, pass_state


@click.command()
@click.option("--types", metavar="A,B", help="Only claim jobs of these types.")
@click.option("--burst", is_flag=True, help="Exit when nothing is left to claim.")
@click.option(
    "--processes",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Worker processes to run under one supervisor.",
)
@click.option("--concurrency", type=click.IntRange(1), help="Jobs at once per process.")
@click.option(
    "--prefetch-multiplier",
    type=click.IntRange(1),
    help="Hold up to this x concurrency jobs while jobs run short (default 4; 1: only free slots).",
)
@click.option("--lease-seconds", type=click.FloatRange(0.5), help="Lease length.")
@click.option("--poll-interval", type=click.FloatRange(0.01), help="Idle poll interval.")
@click.option("--shutdown-grace", type=click.FloatRange(0), help="Seconds to let jobs finish.")
@click.option(
    "--unknown-type-grace",
    type=click.FloatRange(0),
    help="Seconds pending jobs of a type no live worker serves wait for one (default 600; "
    "a type no worker ever served fails at once).",
)
@click.option(
    "--worker-id",
    help="Name of this worker (default host-pid-random); with --processes N, NAME-1 ... NAME-N.",
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--log-json/--log-console",
    default=None,
    help="Log format (default: console on a terminal, JSON otherwise).",
)
@pass_state
def run(
    state: State,
    types: str | None,
    burst: bool,
    processes: int,
    concurrency: int | None,
    prefetch_multiplier: int | None,
    lease_seconds: float | None,
    poll_interval: float | None,
    shutdown_grace: float | None,
    unknown_type_grace: float | None,
    worker_id: str | None,
    log_level: str,
    log_json: bool | None,
) -> None:
    """Process jobs until stopped (SIGTERM/SIGINT: graceful; a second signal: hand back now).

    The worker claims only job types it has a working plugin for (narrowed by --types), records
    itself in the store's worker registry (see `jobworker workers`), and reloads its plugins
    between jobs when plugins are installed or removed (checked every 10 s, and on SIGHUP).
    """
    from ..logs import configure_logging

    configure_logging(log_level, log_json)  # first: structlog without Rich (jobworker.logs)
    from ..worker import Worker

    settings = state.settings
    for key, value in (
        ("concurrency", concurrency),
        ("prefetch_multiplier", prefetch_multiplier),
        ("lease_seconds", lease_seconds),
        ("poll_interval", poll_interval),
        ("shutdown_grace", shutdown_grace),
        ("unknown_type_grace", unknown_type_grace),
    ):
        if value is not None:
            setattr(settings, key, value)
    if processes > 1:
        sys.exit(_supervise(processes, burst))
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    plugins = state.plugins
    if type_list:
        missing = [t for t in type_list if plugins.handler_for(t) is None]
        if missing:
            raise click.ClickException(
                f"no installed plugin handles {', '.join(missing)}; installed types: "
                f"{', '.join(plugins.job_types()) or 'none'}"
            )
    worker = Worker(
        state.store, plugins, settings, types=type_list, burst=burst, worker_id=worker_id
    )
    for job_type, reason in sorted(worker.serving.unavailable.items()):
        if type_list is None or job_type in type_list:
            click.echo(f"warning: not serving {job_type}: {reason}", err=True)
    import asyncio

    existing = set(threading.enumerate())
    asyncio.run(worker.run())
    state.store.close()
    if worker.store_error is not None:
        click.echo(f"error: {worker.store_error}", err=True)
        sys.exit(1)
    if _stuck_threads(existing, wait=1.0):
        # A thread-executor handler ignored its cancellation; its job was handed back already.
        sys.stderr.flush()
        os._exit(0)


def _stuck_threads(existing: set[threading.Thread], wait: float) -> bool:
    """Whether a thread this run started is still alive ``wait`` seconds after the worker
    stopped (the worker's pools are shut down without waiting, so their idle threads are still
    leaving when it returns). Threads that were there before the run (an embedding program's,
    or another command's when the CLI runs in-process, as in tests) are not ours to judge."""
    deadline = time.monotonic() + wait
    ours = [
        t
        for t in threading.enumerate()
        if t not in existing and not t.daemon and t is not threading.current_thread()
    ]
    for thread in ours:
        thread.join(max(0.0, deadline - time.monotonic()))
    return any(t.is_alive() for t in ours)


def _supervise(processes: int, burst: bool) -> int:
    """Run ``processes`` copies of this command (without ``--processes``); forward signals;
    restart a copy that dies unexpectedly (not in ``--burst`` mode)."""
    import structlog

    log = structlog.get_logger("jobworker.supervisor")
    argv = _argv_without_processes(sys.argv[1:])
    cmds = [[sys.executable, "-m", "jobworker", *_numbered(argv, i + 1)] for i in range(processes)]
    children = [subprocess.Popen(cmd) for cmd in cmds]
    log.info("supervisor started", processes=processes, pids=[c.pid for c in children])
    stopping = {"count": 0}

    def forward(sig: int, _frame: object) -> None:
        stopping["count"] += 1
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        alive = 0
        for i, child in enumerate(children):
            code = child.poll()
            if code is None:
                alive += 1
            elif code != 0 and not stopping["count"] and not burst:
                log.warning("worker process died; restarting", pid=child.pid, exit_code=code)
                children[i] = subprocess.Popen(cmds[i])
                alive += 1
        if not alive:
            break
        time.sleep(0.2)
    codes = [c.returncode for c in children]
    log.info("supervisor stopped", exit_codes=codes)
    return 0 if all(c == 0 or c == -signal.SIGTERM for c in codes) else 1


def _argv_without_processes(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--processes":
            skip = True
            continue
        if arg.startswith("--processes="):
            continue
        out.append(arg)
    return out


def _numbered(argv: list[str], index: int) -> list[str]:
    """``argv`` with ``--worker-id NAME`` made ``NAME-<index>``: every process of a supervisor
    needs its own id (leases and the worker registry are per id)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--worker-id" and i + 1 < len(out):
            out[i + 1] = f"{out[i + 1]}-{index}"
        elif arg.startswith("--worker-id="):
            out[i] = f"{arg}-{index}"
    return out
