"""What a worker serves, from its plugins, and noticing plugins installed or removed meanwhile.

:class:`Serving` is derived from the loaded :class:`~jobworker.plugins.Plugins`: the job types
with a working handler (installed and available here), narrowed by ``--types``, each with the
number of jobs of it the worker runs at once. It is what the worker claims and what it tells the
fleet (:class:`~jobworker.fleet.WorkerRecord`).

:class:`PluginWatcher` fingerprints the installed distributions of the ``jobworker`` entry-point
group; the worker asks it on a timer (``plugin_check_interval``) and on SIGHUP whether anything
changed, and reloads its plugins between jobs when it did (:meth:`PluginWatcher.prepare` makes a
new install importable in the running process, and an upgraded or removed plugin's modules
importable afresh).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import site
import sys
from collections.abc import Collection
from pathlib import Path

import attrs

from .config import Settings
from .fleet import PluginRecord
from .plugins import ENTRY_POINT_GROUP, Plugins, module_names

__all__ = ["PluginWatcher", "Serving", "reload_plugins"]


@attrs.define(frozen=True)
class Serving:
    """The job types a worker claims (``types``: type -> jobs at once; ``aliases``: legacy name
    -> type), the installed types it cannot run here (``unavailable``: type -> reason), those
    it could run but ``--types`` leaves out (``installed``) and the plugins loaded."""

    types: dict[str, int]
    aliases: dict[str, str]
    unavailable: dict[str, str]
    plugins: list[PluginRecord]
    installed: list[str] = attrs.Factory(list)

    @classmethod
    def of(
        cls, plugins: Plugins, settings: Settings, narrowed: Collection[str] | None = None
    ) -> Serving:
        unavailable = {
            t: reason for info in plugins.infos.values() for t, reason in info.unavailable.items()
        }
        wanted = None
        if narrowed is not None:  # --types may name an alias
            wanted = {h.job_type for n in narrowed if (h := plugins.handler_for(n)) is not None}
        types: dict[str, int] = {}
        aliases: dict[str, str] = {}
        left_out: set[str] = set()
        for name, handler in plugins.handlers.items():
            job_type = handler.job_type
            if job_type in unavailable:
                continue
            if wanted is not None and job_type not in wanted:
                left_out.add(name)
                continue
            if name == job_type:
                limits = [settings.concurrency, handler.concurrency]
                limits.append(settings.max_concurrent_per_type.get(job_type))
                types[job_type] = min(n for n in limits if n)
            else:
                aliases[name] = job_type
        records = [
            PluginRecord(p.name, p.distribution, p.version)
            for p in plugins.listing()
            if not p.problems
        ]
        return cls(types, aliases, unavailable, records, sorted(left_out))

    @property
    def claim_types(self) -> list[str]:
        """Every ``job_type`` value to claim: the types and their aliases."""
        return sorted({*self.types, *self.aliases})


def reload_plugins(old: Plugins) -> Plugins:
    """The plugins as installed now (entry points, as ``JOBWORKER_PLUGINS`` says), plus the
    modules and objects ``old`` had registered by hand (``--plugin``, config, tests)."""
    modules = module_names(old)
    by_hand = [
        (name, plugin)
        for name, plugin in old.pm.list_name_plugin()
        if name in old.infos
        and old.infos[name].distribution is None
        and name not in modules
        and plugin is not None
    ]
    plugins = Plugins()
    plugins.load_builtins()
    plugins.load_entry_points()
    for module in modules:
        plugins.load_module(module)
    for name, plugin in by_hand:
        plugins.register(plugin, name)
    plugins.collect_handlers()
    return plugins


def _fingerprint() -> frozenset[tuple[str, str, str, str]]:
    """(distribution, version, entry point name, value) of every installed plugin."""
    importlib.invalidate_caches()
    return frozenset(
        (ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "", ep.name, ep.value)
        for ep in md.entry_points(group=ENTRY_POINT_GROUP)
    )


class PluginWatcher:
    """Tells whether the installed plugins changed since the last look."""

    def __init__(self) -> None:
        self._seen = _fingerprint()
        self._pth = _pth_files()

    def changed(self) -> bool:
        return _fingerprint() != self._seen

    def prepare(self) -> None:
        """Before reloading: make what was installed or removed since the last look
        importable as it is now, and remember the new state."""
        now = _fingerprint()
        gone = self._seen - now
        # An upgraded or removed plugin's modules are imported afresh (jobs still running keep
        # the functions they hold); a new editable install's .pth file puts its path on sys.path.
        for _dist, _version, _name, value in gone:
            root = value.split(":", 1)[0].split(".", 1)[0]
            for module in [m for m in sys.modules if m == root or m.startswith(root + ".")]:
                del sys.modules[module]
        pth = _pth_files()
        for path in sorted(pth - self._pth):
            site.addpackage(str(path.parent), path.name, None)
        self._seen, self._pth = now, pth
        importlib.invalidate_caches()


def _pth_files() -> set[Path]:
    found: set[Path] = set()
    for folder in {*site.getsitepackages(), site.getusersitepackages()}:
        path = Path(folder)
        if path.is_dir():
            found.update(path.glob("*.pth"))
    return found
