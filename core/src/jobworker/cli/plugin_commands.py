"""Plugin commands: ``jobworker plugins`` (what is installed, its job types, hooks and
availability), ``jobworker install`` / ``uninstall`` (pip in jobworker's own environment, as llm
and datasette do) and ``jobworker plugin new NAME`` (a new plugin package from a template)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..plugins import PluginInfo
from .common import State, echo_json, pass_state


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@click.option("--all", "show_all", is_flag=True, help="Include jobworker's own job type (webhook).")
@pass_state
def plugins(state: State, as_json: bool, show_all: bool) -> None:
    """List plugins with distribution, version, job types, hooks and availability.

    Environment: JOBWORKER_PLUGINS=a,b loads only these installed plugins (set but empty: none);
    JOBWORKER_TRACE_HOOKS=1 prints every hook call to stderr.
    """
    from rich.console import Console
    from rich.table import Table

    everything = state.plugins.listing()
    listing = [p for p in everything if show_all or p.distribution != "jobworker"]
    builtin = [t for p in everything if p.distribution == "jobworker" for t in p.job_types]
    if as_json:
        echo_json([p.as_dict() for p in listing])
        return
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze names into 80 columns
        console = Console(width=max(console.width, 160))
    if not listing:
        console.print("No plugins installed. Install one with: jobworker install PACKAGE")
        return
    table = Table("plugin", "distribution", "version", "job types", "hooks", "status")
    for p in listing:
        table.add_row(
            p.name,
            p.distribution or "-",
            p.version or "-",
            ", ".join(p.job_types) or "-",
            ", ".join(p.hooks) or "-",
            _status(p),
        )
    console.print(table)
    if builtin and not show_all:
        console.print(f"built into jobworker: {', '.join(builtin)} (--all lists it as a plugin)")
    for p in listing:  # reasons in full below the table, where they are not squeezed
        label = f"{p.name} ({p.distribution})" if p.distribution else p.name
        for problem in p.problems:
            console.print(f"[red]broken[/] {label}: {problem}", highlight=False)
        for job_type, why in p.unavailable.items():
            console.print(f"[yellow]unavailable[/] {label}: {job_type}: {why}", highlight=False)


def _status(info: PluginInfo) -> str:
    if info.problems:
        return "[red]broken[/]"
    if info.unavailable:
        return "[yellow]unavailable[/]"
    return "[green]ok[/]"


def _pip(*args: str) -> None:
    """Run pip of the interpreter running jobworker, so plugins land where jobworker looks."""
    command = [sys.executable, "-m", "pip", *args]
    try:
        code = subprocess.call(command)
    except OSError as exc:  # pragma: no cover - sys.executable vanished
        raise click.ClickException(f"cannot run {sys.executable}: {exc}") from exc
    if code:
        sys.exit(code)


@click.command()
@click.argument("packages", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade to the newest version.")
@click.option(
    "-e",
    "--editable",
    "editables",
    multiple=True,
    metavar="PATH",
    help="Install a plugin from a local directory in editable mode (repeatable).",
)
@click.option("--force-reinstall", is_flag=True, help="Reinstall even if up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Disable pip's cache.")
@click.option("--pre", is_flag=True, help="Include pre-release versions.")
@click.option("--no-deps", is_flag=True, help="Do not install dependencies.")
@click.option("--index-url", metavar="URL", help="Your package index (e.g. a private one).")
@click.option("--extra-index-url", metavar="URL", help="An index to search besides the main one.")
@click.option("--find-links", metavar="DIR", help="Look for wheels in this directory (or URL).")
@pass_state
def install(
    state: State,
    packages: tuple[str, ...],
    upgrade: bool,
    editables: tuple[str, ...],
    force_reinstall: bool,
    no_cache_dir: bool,
    pre: bool,
    no_deps: bool,
    index_url: str | None,
    extra_index_url: str | None,
    find_links: str | None,
) -> None:
    """Install plugins (paths, wheels, URLs, or names from your package index) into
    jobworker's own environment. None of jobworker's packages is published on PyPI.

    Runs ``python -m pip install`` with the interpreter running jobworker, e.g.
    ``jobworker install ./plugins/pdf``, ``jobworker install dist/worker_plugin_pdf-*.whl``,
    ``jobworker install --index-url https://pypi.example.org/simple/ worker-plugin-pdf`` or
    ``jobworker install -e ./my-plugin``. Then tells the live workers of the store on this host
    to reload their plugins (SIGHUP); they start claiming the new job types between jobs,
    without a restart.
    """
    if not packages and not editables:
        raise click.UsageError("name at least one package (or -e PATH)")
    args = ["install"]
    for flag, on in (
        ("--upgrade", upgrade),
        ("--force-reinstall", force_reinstall),
        ("--no-cache-dir", no_cache_dir),
        ("--pre", pre),
        ("--no-deps", no_deps),
    ):
        if on:
            args.append(flag)
    for flag, value in (
        ("--index-url", index_url),
        ("--extra-index-url", extra_index_url),
        ("--find-links", find_links),
    ):
        if value:
            args += [flag, value]
    for path in editables:
        args += ["--editable", path]
    _pip(*args, *packages)
    _tell_workers(state)


@click.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def uninstall(state: State, packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from jobworker's environment (``python -m pip uninstall``).

    Then tells the live workers of the store on this host to reload their plugins: they stop
    claiming the removed job types; attempts already running finish with the code they started
    with.
    """
    _pip("uninstall", *(["-y"] if yes else []), *packages)
    _tell_workers(state)


def _tell_workers(state: State) -> None:
    from .fleet_commands import tell_local_workers

    told = tell_local_workers(state)
    if told:
        click.echo(f"asked {len(told)} running worker(s) to reload plugins: {', '.join(told)}")


@click.group("plugin")
def plugin_group() -> None:
    """Develop plugins."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory to create worker-plugin-NAME in.",
)
@click.option("--description", help="One line saying what the plugin does.")
def plugin_new(name: str, parent: Path, description: str | None) -> None:
    """Create a new plugin package worker-plugin-NAME with job type NAME.

    The package has a pyproject.toml with the entry point and the supported jobworker versions,
    a handler with a validated parameters class, tests that pass right away, and a README.
    """
    from ..plugins import core_version
    from ..scaffold import new_plugin

    try:
        target = new_plugin(name, parent, description=description, core_version=core_version())
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Created {target}\n\nNext:\n  cd {target}\n"
        f"  jobworker install -e '.[test]'\n  python -m pytest\n  jobworker plugins"
    )
