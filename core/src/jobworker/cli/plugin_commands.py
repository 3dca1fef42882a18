"""``jobworker plugins``: what is installed, its job types, hooks and availability."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from .common import State, echo_json, pass_state


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@click.option("--all", "show_all", is_flag=True, help="Include jobworker's built-in plugins.")
@pass_state
def plugins(state: State, as_json: bool, show_all: bool) -> None:
    """List plugins with distribution, version, job types, hooks and availability."""
    listing = [p for p in state.plugins.listing()
               if show_all or p.distribution != "jobworker"]
    if as_json:
        echo_json([p.as_dict() for p in listing])
        return
    table = Table("plugin", "distribution", "version", "job types", "hooks", "status")
    for p in listing:
        if p.problems:
            status = "[red]broken[/]: " + "; ".join(p.problems)
        elif p.unavailable:
            status = "[yellow]unavailable[/]: " + "; ".join(
                f"{t}: {why}" for t, why in p.unavailable.items())
        else:
            status = "[green]ok[/]"
        table.add_row(p.name, p.distribution or "-", p.version or "-",
                      ", ".join(p.job_types) or "-", ", ".join(p.hooks) or "-", status)
    Console().print(table)


def register_plugin_commands(cli: click.Group) -> None:
    cli.add_command(plugins)
