"""The ``jobworker`` command line.

Global options come before the command: ``jobworker --store URL --config FILE --plugin MODULE
COMMAND ...``. The store URL is taken from ``--store``, else ``$JOBWORKER_STORE``, else the
config file's ``store``, else ``sqlite:///jobworker.db`` in the working directory.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from .common import State

__all__ = ["cli", "main"]

# jobworker's own commands: name -> "module:attribute" under jobworker.cli. A command's module is
# imported only when that command runs (or ``--help`` lists it), so ``submit`` does not pay for
# ``serve``'s or ``plugins``' imports (click's lazy-loading group pattern).
COMMANDS: dict[str, str] = {
    "run": "run:run",
    "serve": "serve:serve",
    "keys": "serve:keys",
    "submit": "jobs:submit",
    "batch": "jobs:batch",
    "status": "jobs:status",
    "list": "jobs:list_jobs",
    "logs": "jobs:logs",
    "watch": "jobs:watch",
    "cancel": "jobs:cancel",
    "retry": "jobs:retry",
    "purge": "jobs:purge",
    "store": "jobs:store",
    "import": "jobs:import_documents",
    "plugins": "plugin_commands:plugins",
    "install": "plugin_commands:install",
    "uninstall": "plugin_commands:uninstall",
    "plugin": "plugin_commands:plugin_group",
    "workers": "fleet_commands:workers",
}


class LazyGroup(click.Group):
    """A group whose :data:`COMMANDS` are imported on first use; commands added with
    ``add_command`` (plugins' ``register_commands``) are there as usual."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
                raise TypeError(f"jobworker.cli.{COMMANDS[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.version_option(__version__, package_name="jobworker")  # no metadata read
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
    if not (name in COMMANDS or (name is None and "--version" in args)):
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
