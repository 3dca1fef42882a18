"""The ``jobworker`` command line.

Global options come before the command: ``jobworker --store URL --config FILE --plugin MODULE
COMMAND ...``. The store URL is taken from ``--store``, else ``$JOBWORKER_STORE``, else the
config file's ``store``, else ``sqlite:///jobworker.db`` in the working directory.
"""

from __future__ import annotations

import click

from ..plugins import Plugins
from .common import State
from .jobs import register_job_commands
from .plugin_commands import register_plugin_commands
from .run import run

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store_url", metavar="URL", envvar="JOBWORKER_STORE",
              help="Store URL: sqlite:///path.db (default sqlite:///jobworker.db) or "
                   "mongodb://host/db. Env: JOBWORKER_STORE.")
@click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False),
              envvar="JOBWORKER_CONFIG", help="Config file (default ./jobworker.toml if present).")
@click.option("--plugin", "plugin_modules", metavar="MODULE", multiple=True,
              help="Also load this module as a plugin (repeatable).")
@click.version_option(package_name="jobworker")
@click.pass_context
def cli(ctx: click.Context, store_url: str | None, config_path: str | None,
        plugin_modules: tuple[str, ...]) -> None:
    """jobworker: background jobs whose job types are plugins."""
    ctx.obj = State(store_url, config_path, plugin_modules)


cli.add_command(run)
register_job_commands(cli)
register_plugin_commands(cli)


def main() -> None:
    # Plugins may add commands (register_commands hook); load them before parsing.
    try:
        Plugins.load().hook.register_commands(cli=cli)
    except Exception as exc:  # a broken plugin must not take the CLI down
        click.echo(f"warning: a plugin failed to add commands: {exc}", err=True)
    cli(prog_name="jobworker")
