"""Settings: from ``jobworker.toml``, then environment variables, then command-line options.

Precedence, highest first: command-line options (``--store``, ``--concurrency``...),
environment (``JOBWORKER_STORE``, ``JOBWORKER_CONFIG``), the config file (``--config``, else
``$JOBWORKER_CONFIG``, else ``./jobworker.toml`` if present), built-in defaults. A complete
file::

    store = "sqlite:///jobworker.db"   # or mongodb://host/db
    load_plugins = []                  # extra plugin modules to load (besides installed ones)

    [store_options]                    # backend options, e.g. synchronous = "FULL", log_cap = 1000
    synchronous = "NORMAL"

    [worker]
    concurrency = 8                    # jobs at once per worker process
    prefetch_multiplier = 4            # claim up to this x concurrency jobs while jobs run short
    lease_seconds = 30                 # a silent worker's jobs are reclaimed after this
    poll_interval = 1.0                # idle poll (wake-ups make pickup immediate where supported)
    shutdown_grace = 30                # seconds running jobs get to finish on SIGTERM
    unknown_type_grace = 600           # pending jobs of a type no live worker serves fail after
                                       # this many seconds without one (at once if never served)
    plugin_check_interval = 10         # look for installed/removed plugins this often (0: never)
    hook_timeout = 60                  # seconds the worker waits for one round of lifecycle hooks
    max_concurrent_per_type = { ocr = 2 }          # per worker process
    cluster_max_concurrent_per_type = { video = 4 } # across all workers sharing the store

    [paths]
    input_roots = ["."]                # handlers read files only under these
    output_root = "jobworker-output"   # handlers write results under <output_root>/<job_id>
    max_input_bytes = 1073741824

    [plugins.pdf]                      # settings handed to the `pdf` handler as ctx.settings
    max_pages = 2000
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .store import DEFAULT_URL

__all__ = ["Settings", "load_settings"]


@attrs.define
class Settings:
    store: str = DEFAULT_URL
    store_options: dict[str, Any] = attrs.Factory(dict)
    plugins: list[str] = attrs.Factory(list)
    concurrency: int = 8
    prefetch_multiplier: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    lease_seconds: float = 30.0
    poll_interval: float = 1.0
    shutdown_grace: float = 30.0
    unknown_type_grace: float = 600.0
    plugin_check_interval: float = 10.0
    max_concurrent_per_type: dict[str, int] = attrs.Factory(dict)
    cluster_max_concurrent_per_type: dict[str, int] = attrs.Factory(dict)
    input_roots: list[Path] = attrs.Factory(lambda: [Path.cwd()])
    output_root: Path = attrs.Factory(lambda: Path.cwd() / "jobworker-output")
    max_input_bytes: int | None = 1 << 30
    plugin_settings: dict[str, dict[str, Any]] = attrs.Factory(dict)
    retry_backoff: float = 2.0
    hook_timeout: float = 60.0
    source: str = "defaults"

    def for_type(self, job_type: str) -> dict[str, Any]:
        return dict(self.plugin_settings.get(job_type, {}))


def load_settings(
    config: str | os.PathLike[str] | None = None, *, store: str | None = None, **overrides: Any
) -> Settings:
    """Build :class:`Settings` with the documented precedence; ``overrides`` that are ``None``
    are ignored (unset command-line options)."""
    path = config or os.environ.get("JOBWORKER_CONFIG")
    if path is None and Path("jobworker.toml").is_file():
        path = "jobworker.toml"
    data: dict[str, Any] = {}
    if path is not None:
        if sys.version_info >= (3, 11):  # imported only when there is a file to read
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    base = Path(path).resolve().parent if path else Path.cwd()
    settings = _from_mapping(data, base)
    settings.source = str(path) if path else "defaults"
    env_store = os.environ.get("JOBWORKER_STORE")
    if env_store:
        settings.store = env_store
    if store:
        settings.store = store
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    return settings


def _from_mapping(data: Mapping[str, Any], base: Path) -> Settings:
    worker = dict(data.get("worker", {}))
    paths = dict(data.get("paths", {}))
    s = Settings()
    s.store = data.get("store", s.store)
    s.store_options = dict(data.get("store_options", {}))
    s.plugins = list(data.get("load_plugins", []))
    for key in (
        "concurrency",
        "prefetch_multiplier",
        "lease_seconds",
        "poll_interval",
        "shutdown_grace",
        "unknown_type_grace",
        "plugin_check_interval",
        "max_concurrent_per_type",
        "cluster_max_concurrent_per_type",
        "retry_backoff",
        "hook_timeout",
    ):
        if key in worker:
            setattr(s, key, worker[key])
    if "input_roots" in paths:
        s.input_roots = [(base / p).resolve() for p in paths["input_roots"]]
    if "output_root" in paths:
        s.output_root = (base / paths["output_root"]).resolve()
    if "max_input_bytes" in paths:
        s.max_input_bytes = paths["max_input_bytes"]
    s.plugin_settings = {k: dict(v) for k, v in dict(data.get("plugins", {})).items()}
    return s
