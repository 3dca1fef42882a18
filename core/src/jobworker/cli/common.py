"""What every command shares: settings, the store, the plugins, output helpers.

The command modules import at their top only click and what a command's options need; the rest
(the client, the store, the plugins, rich) is imported inside the commands, so that
``jobworker --version`` and ``jobworker submit`` start quickly (docs/benchmarks.md)."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from ..errors import JobFailure
from .outcome import EXIT_REFUSED

if TYPE_CHECKING:
    from ..client import Client
    from ..config import Settings
    from ..plugins import Plugins
    from ..store import Store


class State:
    def __init__(
        self, store_url: str | None, config_path: str | None, plugin_modules: tuple[str, ...]
    ) -> None:
        self.store_url, self.config_path, self.plugin_modules = (
            store_url,
            config_path,
            plugin_modules,
        )

    @cached_property
    def settings(self) -> Settings:
        from ..config import load_settings

        try:
            return load_settings(self.config_path, store=self.store_url)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read the config: {exc}") from exc

    @cached_property
    def plugins(self) -> Plugins:
        from ..plugins import Plugins

        return self._warn(Plugins.load([*self.settings.plugins, *self.plugin_modules]))

    def plugins_for(self, job_type: str) -> Plugins:
        """Plugins enough to submit ``job_type``: only the installed plugin whose entry point
        has that name, when it handles the type (a quick ``submit``); else all of them."""
        if "plugins" in self.__dict__:
            return self.plugins
        from ..plugins import Plugins

        found = Plugins.load_for(job_type, [*self.settings.plugins, *self.plugin_modules])
        if found is None:
            return self.plugins
        return self._warn(found)

    def client_for(self, job_type: str) -> Client:
        from ..client import Client

        return Client(self.store, self.plugins_for(job_type), self.settings)

    def _warn(self, plugins: Plugins) -> Plugins:
        for problem in plugins.problems:
            label = (
                f"{problem.plugin} ({problem.distribution})"
                if problem.distribution
                else problem.plugin
            )
            click.echo(f"warning: plugin {label}: {problem.message}", err=True)
        return plugins

    @cached_property
    def store(self) -> Store:
        from ..store import StoreError, open_store

        try:
            return open_store(self.settings.store, **self.settings.store_options)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def client(self) -> Client:
        from ..client import Client

        return Client(self.store, self.plugins, self.settings)


pass_state = click.make_pass_decorator(State)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def fail(exc: JobFailure) -> None:
    """Print a refused request like the job error it would have been, and exit 2 (see the
    exit codes in :mod:`.outcome`)."""
    click.echo(f"error: {exc.code}: {exc.message}", err=True)
    sys.exit(EXIT_REFUSED)
