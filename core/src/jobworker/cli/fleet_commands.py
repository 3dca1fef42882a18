"""``jobworker workers``: the fleet on this store, from the worker registry."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import click

from ..model import utcnow
from .common import State, echo_json, pass_state


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@click.option(
    "--all", "show_all", is_flag=True, help="Include stopped and dead workers still remembered."
)
@pass_state
def workers(state: State, as_json: bool, show_all: bool) -> None:
    """List the live workers: what each serves and runs, heartbeat age, versions.

    A worker is live while its heartbeat is younger than three of its lease lengths; a clean
    exit marks it stopped. Pending jobs of a type no live worker serves are failed with
    UNKNOWN_JOB_TYPE after the unknown-type grace (at once if no worker ever served it).
    """
    from rich.console import Console
    from rich.table import Table

    now = utcnow()
    records = state.client.workers(include_gone=show_all)
    if as_json:
        echo_json([r.as_json(now) for r in records])
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    if not records:
        console.print("No live workers." if not show_all else "No workers in the registry.")
        return
    table = Table("worker", "state", "serves", "running", "done/failed", "heartbeat", "versions")
    for r in records:
        table.add_row(
            f"{r.worker_id}\n{r.host} pid {r.pid}",
            r.state(now),
            ", ".join(f"{t} x{n}" for t, n in sorted(r.types.items())) or "-",
            str(len(r.running)),
            f"{r.processed}/{r.failed}",
            f"{r.heartbeat_age(now):.1f} s ago",
            "\n".join(
                [f"jobworker {r.version}"]
                + [
                    f"{p.distribution} {p.version}"
                    for p in r.plugins
                    if p.distribution not in (None, "jobworker")
                ]
            ),
        )
    console.print(table)


def tell_local_workers(state: State) -> list[str]:
    """Ask the live workers of the configured store that run on this host to reload their
    plugins (SIGHUP to their pids); return the ids of the workers told. Nothing is created:
    a SQLite store that does not exist yet has no workers to tell."""
    url = state.settings.store
    if url.startswith("sqlite:"):
        from ..store.sqlite import SQLiteStore

        if not SQLiteStore.path_of(url).exists():
            return []
    try:
        records = state.store.workers()
    except Exception:  # an unreachable store: the workers notice by their timer
        return []
    now, host, told = utcnow(), socket.gethostname(), []
    for record in records:
        if record.host == host and record.alive(now) and _is_jobworker(record.pid):
            try:
                os.kill(record.pid, signal.SIGHUP)
            except OSError:
                continue
            told.append(record.worker_id)
    return told


def _is_jobworker(pid: int) -> bool:
    """Whether ``pid`` is a jobworker process (never signal a recycled pid)."""
    if pid == os.getpid():
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone, or no /proc here: do not guess
        return False
    return b"jobworker" in cmdline
