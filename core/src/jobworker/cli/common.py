"""What every command shares: settings, the store, the plugins, output helpers."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from typing import Any

import click

from ..client import Client
from ..config import Settings, load_settings
from ..errors import JobFailure
from ..plugins import Plugins
from ..store import Store, StoreError, open_store
from .outcome import EXIT_REFUSED


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
        try:
            return load_settings(self.config_path, store=self.store_url)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read the config: {exc}") from exc

    @cached_property
    def plugins(self) -> Plugins:
        plugins = Plugins.load([*self.settings.plugins, *self.plugin_modules])
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
        try:
            return open_store(self.settings.store, **self.settings.store_options)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def client(self) -> Client:
        return Client(self.store, self.plugins, self.settings)


pass_state = click.make_pass_decorator(State)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def fail(exc: JobFailure) -> None:
    """Print a refused request like the job error it would have been, and exit 2 (see the
    exit codes in :mod:`.outcome`)."""
    click.echo(f"error: {exc.code}: {exc.message}", err=True)
    sys.exit(EXIT_REFUSED)
