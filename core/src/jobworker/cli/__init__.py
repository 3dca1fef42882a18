"""The ``jobworker`` command line.

Global options come before the command: ``jobworker --store URL --config FILE --plugin MODULE
COMMAND ...``. The store URL is taken from ``--store``, else ``$JOBWORKER_STORE``, else the
config file's ``store``, else ``sqlite:///jobworker.db`` in the working directory.
"""

from __future__ import annotations

import sys

import click

from .common import State
from .fleet_commands import register_fleet_commands
from .jobs import register_job_commands
from .plugin_commands import register_plugin_commands
from .run import run
from .serve import keys, serve

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="JOBWORKER_STORE",
    help="Store URL: sqlite:///path.db (default sqlite:///jobworker.db) or "
    "mongodb://host/db. Env: JOBWORKER_STORE.",
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    envvar="JOBWORKER_CONFIG",
    help="Config file (default ./jobworker.toml if present).",
)
@click.option(
    "--plugin",
    "plugin_modules",
    metavar="MODULE",
    multiple=True,
    help="Also load this module as a plugin (repeatable).",
)
@click.version_option(package_name="jobworker")
@click.pass_context
def cli(
    ctx: click.Context,
    store_url: str | None,
    config_path: str | None,
    plugin_modules: tuple[str, ...],
) -> None:
    """jobworker: background jobs whose job types are plugins.

    Exit codes: 0 done (a waited-for job completed), 1 a waited-for job failed or the command
    failed, 2 refused (bad usage or parameters), 3 a wait ran out."""
    ctx.obj = State(store_url, config_path, plugin_modules)


cli.add_command(run)
cli.add_command(serve)
cli.add_command(keys)
register_job_commands(cli)
register_plugin_commands(cli)
register_fleet_commands(cli)


def _command_name(args: list[str]) -> str | None:
    """The subcommand ``args`` name, skipping the global options (and their values)."""
    valued = {"--store", "--config", "--plugin"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in valued:
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            return arg
    return None


def main() -> None:
    """The ``jobworker`` command. Plugins may add commands (``register_commands``): unless the
    command is one of jobworker's own (or ``--version``), they are loaded before parsing:
    installed ones, the config file's and those named with ``--plugin``."""
    args = sys.argv[1:]
    name = _command_name(args)
    if not (name in cli.commands or (name is None and "--version" in args)):
        _add_plugin_commands()  # not for jobworker's own commands: a quick start
    try:
        cli(prog_name="jobworker")
    except Exception as exc:
        from ..poison import is_store_failure

        if not is_store_failure(exc):
            raise
        # A store that cannot be opened, read or written: one clear line, not a traceback.
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _add_plugin_commands() -> None:
    from ..config import load_settings
    from ..plugins import Plugins

    modules = [
        arg.split("=", 1)[1] if "=" in arg else sys.argv[i + 2]
        for i, arg in enumerate(sys.argv[1:])
        if arg.split("=", 1)[0] == "--plugin" and ("=" in arg or i + 2 < len(sys.argv))
    ]
    try:
        modules += load_settings().plugins
    except Exception:  # a broken config is reported by the command that reads it
        pass
    plugins = Plugins.load(modules)
    for impl in plugins.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:  # one broken plugin must not take the others' commands
            click.echo(
                f"warning: plugin {impl.plugin_name} failed to add commands: {exc}", err=True
            )
