"""Finding, loading and checking plugins; the registry of job types they hand over.

Plugins come from the entry-point group ``jobworker`` (``jobworker install ./plugins/x``) and from
modules named with ``--plugin`` / ``JOBWORKER_EXTRA_PLUGINS`` / the config's ``plugins`` list;
the core's own job type (``webhook``) is listed as the plugin ``jobworker``. Loading never
raises: every broken plugin is recorded as a :class:`PluginProblem` naming it, and the others
keep working.

Environment:

* ``JOBWORKER_PLUGINS``: comma-separated entry-point or distribution names to load; set but empty
  loads no installed plugin at all. Unset: load all. A name that matches nothing installed is
  reported as a problem (a typo would otherwise silently load nothing).
* ``JOBWORKER_EXTRA_PLUGINS``: comma-separated module names to load as well (``--plugin``).
* ``JOBWORKER_TRACE_HOOKS=1``: print every hook call and its result to stderr.

Installed plugins load in a fixed order, sorted by distribution name, then entry-point name, after
the core's own; when two plugins register the same job type, the first in that order keeps it and
the other is refused for it, with both named.
"""

from __future__ import annotations

import importlib
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from . import hookspecs
from .handler import JobHandler
from .model import job_type_of

if TYPE_CHECKING:
    import importlib.metadata as md

    from packaging.specifiers import SpecifierSet

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginProblem", "Plugins", "hookimpl"]

ENTRY_POINT_GROUP = "jobworker"
CORE = "jobworker"  # the name the core's own job types are listed under
hookimpl = pluggy.HookimplMarker("jobworker")


@attrs.define
class PluginProblem:
    plugin: str
    distribution: str | None
    message: str


@attrs.define
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    job_types: list[str] = attrs.Factory(list)
    hooks: list[str] = attrs.Factory(list)
    problems: list[str] = attrs.Factory(list)
    unavailable: dict[str, str] = attrs.Factory(dict)  # job type -> reason

    @property
    def available(self) -> bool:
        return not self.problems and not self.unavailable

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "job_types": self.job_types,
            "hooks": self.hooks,
            "available": self.available,
            "problems": self.problems,
            "unavailable": self.unavailable,
        }


def core_version() -> str:
    """The installed core's version (``jobworker.__version__``, which the build writes into
    the distribution's metadata: no metadata to read here)."""
    from . import __version__

    return __version__


class Plugins:
    """A pluggy manager with jobworker's hookspecs, the loaded plugins and their job types."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("jobworker")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.problems: list[PluginProblem] = []
        self.handlers: dict[str, JobHandler] = {}
        self._owner: dict[str, str] = {}  # job type or alias -> plugin name
        #: plugin name -> the hookspec modules (or classes) it declared with register_hookspecs
        self.declared: dict[str, list[ModuleType | type]] = {}
        self.tracing = _env_flag("JOBWORKER_TRACE_HOOKS")
        if self.tracing:
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, extra_modules: Sequence[str] = (), *, entry_points: bool = True) -> Plugins:
        """Built-ins, installed plugins (entry points) and ``extra_modules``, checked."""
        plugins = cls()
        plugins.load_builtins()
        if entry_points:
            plugins.load_entry_points()
        env_extra = os.environ.get("JOBWORKER_EXTRA_PLUGINS", "")
        for name in [*extra_modules, *filter(None, env_extra.split(","))]:
            plugins.load_module(name.strip())
        plugins.collect_handlers()
        return plugins

    @classmethod
    def load_for(cls, job_type: str, extra_modules: Sequence[str] = ()) -> Plugins | None:
        """Like :meth:`load`, but of the installed plugins only the one whose entry point is
        named ``job_type`` (a quick ``jobworker submit``): the plugins, if they handle
        ``job_type`` without any problem; else ``None`` (then load them all)."""
        plugins = cls()
        plugins.load_builtins()
        plugins.load_entry_points(named=job_type)
        env_extra = os.environ.get("JOBWORKER_EXTRA_PLUGINS", "")
        for name in [*extra_modules, *filter(None, env_extra.split(","))]:
            plugins.load_module(name.strip())
        plugins.collect_handlers()
        if plugins.problems or plugins.handler_for(job_type) is None:
            return None
        return plugins

    def load_builtins(self) -> None:
        """The core's own job type: ``webhook`` (deliveries, :mod:`jobworker.webhooks`), listed
        as the plugin ``jobworker``."""
        from .webhooks.job_type import delivery_handler

        self.infos.setdefault(CORE, PluginInfo(CORE, "jobworker", core_version()))
        if delivery_handler().job_type not in self.handlers:
            self._add_handler(CORE, delivery_handler())

    def load_entry_points(self, *, every: bool = False, named: str | None = None) -> None:
        """Installed plugins (entry-point group ``jobworker``), as ``JOBWORKER_PLUGINS`` says
        (``every``: all of them, whatever it says; ``named``: only an entry point of that
        name)."""
        wanted = None if every else os.environ.get("JOBWORKER_PLUGINS")
        names = (
            None
            if wanted is None
            else {_canonical(n.strip()) for n in wanted.split(",") if n.strip()}
        )
        import importlib.metadata as md  # here: a command that loads no plugin skips it

        matched: set[str] = set()
        found: Sequence[md.EntryPoint] = md.entry_points(group=ENTRY_POINT_GROUP)
        if named is not None:  # before sorting, which reads every distribution's metadata
            found = [ep for ep in found if _canonical(ep.name) == _canonical(named)]
        for ep in sorted(found, key=_entry_point_order):
            dist = ep.dist.name if ep.dist else None
            if names is not None:
                keys = {_canonical(ep.name), _canonical(dist or "")} & names
                if not keys:
                    continue
                matched |= keys
            version = ep.dist.version if ep.dist else None
            problem = _incompatibility(ep.dist) if ep.dist else None
            if problem:
                self._problem(ep.name, dist, problem)
                continue
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:
                self._problem(
                    ep.name, dist, f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}"
                )
                continue
            self._register(plugin, ep.name, dist, version)
        for name in sorted((names or set()) - matched) if named is None else ():
            self._problem(
                name,
                None,
                "named in JOBWORKER_PLUGINS, but no installed plugin "
                "(entry point or distribution) has that name",
            )

    def load_module(self, dotted: str) -> None:
        """Register a module given by name (``--plugin``), e.g. a plugin still in development."""
        try:
            module = importlib.import_module(dotted)
        except (Exception, SystemExit) as exc:
            self._problem(dotted, None, f"failed to import: {type(exc).__name__}: {exc}")
            return
        self._register(module, dotted, None, None)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register an already-imported plugin object (tests, ``jobworker.testing``)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        self._register(plugin, name, None, None)

    def _register(self, plugin: object, name: str, dist: str | None, version: str | None) -> None:
        if self.pm.is_registered(plugin):
            return  # the same module named twice (an entry point and --plugin): load it once
        if self.pm.has_plugin(name):
            other = self.infos.get(name)
            label = _label(other) if other else name
            self._problem(
                f"{name} ({dist})" if dist else f"{name} ({plugin!r})",
                dist,
                f"plugin name {name!r} is already taken by {label}; not loaded",
            )
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # PluginValidationError: a hook with a wrong signature
            self._problem(name, dist, f"{type(exc).__name__}: {exc}")
            return
        try:
            self._declare_hookspecs(plugin, name)
        except Exception as exc:
            self.pm.unregister(plugin)
            self._problem(name, dist, f"register_hookspecs failed: {type(exc).__name__}: {exc}")
            return
        self.infos[name] = PluginInfo(name, dist, version)

    def _declare_hookspecs(self, plugin: object, name: str) -> None:
        """Add the hooks this plugin declares itself (its ``register_hookspecs``), at once, so
        plugins loaded later (or earlier) may implement them."""
        hook = "register_hookspecs"
        if not any(i.plugin is plugin for i in self.pm.hook.register_hookspecs.get_hookimpls()):
            return

        def register(source: ModuleType | type) -> None:
            self.pm.add_hookspecs(source)
            self.declared.setdefault(name, []).append(source)

        others = [p for p in self.pm.get_plugins() if p is not plugin]
        self.pm.subset_hook_caller(hook, others)(register=register)

    def check_hooks(self) -> None:
        """Refuse (unregister, naming it) every plugin that implements a hook neither the core
        nor a loaded plugin declares: a misspelt hook name, or a hook of a plugin not loaded.
        Runs once everything is loaded, so the order of loading does not matter."""
        for name, plugin in list(self.pm.list_name_plugin()):
            info = self.infos.get(name)
            if info is None or info.problems:
                continue
            callers = self.pm.get_hookcallers(plugin) or []
            unknown = sorted(
                h.name
                for h in callers
                if not h.has_spec()
                and any(i.plugin is plugin and not i.optionalhook for i in h.get_hookimpls())
            )
            if unknown:
                self.pm.unregister(plugin)
                del self.infos[name]
                self._problem(
                    name,
                    info.distribution,
                    f"unknown hook: {', '.join(map(repr, unknown))} in plugin {name} (misspelt "
                    f"hook name, or a hook of a plugin that is not loaded?)",
                )
                continue
            info.hooks = sorted(h.name for h in callers)

    def _problem(self, name: str, dist: str | None, message: str) -> None:
        self.problems.append(PluginProblem(name, dist, message))
        info = self.infos.setdefault(name, PluginInfo(name, dist, _dist_version(dist)))
        info.problems.append(message)

    # -- job types -------------------------------------------------------------------------

    def collect_handlers(self) -> None:
        """Ask every plugin for its job handlers, in load order; a job type registered twice is
        refused for the later plugin, naming both. Checks the hooks first (:meth:`check_hooks`)."""
        self.check_hooks()
        hook = "register_job_handlers"
        owners = [impl.plugin for impl in getattr(self.hook, hook).get_hookimpls()]
        for name, plugin in self.pm.list_name_plugin():
            if name not in self.infos or not any(p is plugin for p in owners):
                continue
            # Call this plugin's implementation through pluggy (tracing, specname) alone.
            only = self.pm.subset_hook_caller(hook, [p for p in owners if p is not plugin])
            got: list[Any] = []
            try:
                only(register=got.append)
            except Exception as exc:
                self._problem(
                    name,
                    self.infos[name].distribution,
                    f"{hook} raised {type(exc).__name__}: {exc}",
                )
                continue
            for handler in got:
                self._add_handler(name, handler)

    def _add_handler(self, plugin: str, handler: Any) -> None:
        info = self.infos[plugin]
        if not isinstance(handler, JobHandler):
            self._problem(
                plugin,
                info.distribution,
                f"register_job_handlers passed {handler!r}, not a jobworker.JobHandler",
            )
            return
        for job_type in (handler.job_type, *handler.aliases):
            if job_type in self._owner:
                other = self.infos[self._owner[job_type]]
                self._problem(
                    plugin,
                    info.distribution,
                    f"job type {job_type!r} is already registered by "
                    f"{_label(other)}; {_label(info)} was refused for it",
                )
                return
        for job_type in (handler.job_type, *handler.aliases):
            self._owner[job_type] = plugin
            self.handlers[job_type] = handler
        info.job_types.append(handler.job_type)
        reason = handler.unavailable_reason()
        if reason:
            info.unavailable[handler.job_type] = reason

    def handler_for(self, job_type: str) -> JobHandler | None:
        return self.handlers.get(job_type_of(job_type))

    def job_types(self) -> list[str]:
        """Primary job type names (no aliases), sorted."""
        return sorted({h.job_type for h in self.handlers.values()})

    def types_text(self) -> str:
        """The job types for messages, the plugins' apart from the core's built-in ones:
        ``audio, pdf (plugins); built in: webhook``."""
        builtin = set(self.infos[CORE].job_types) if CORE in self.infos else set()
        own = [t for t in self.job_types() if t not in builtin]
        return f"{', '.join(own) or 'none'} (plugins); built in: {', '.join(sorted(builtin))}"

    def plugin_of(self, job_type: str) -> PluginInfo | None:
        owner = self._owner.get(job_type)
        return self.infos.get(owner) if owner else None

    def listing(self) -> list[PluginInfo]:
        return sorted(self.infos.values(), key=lambda i: (i.distribution != "jobworker", i.name))

    def collect(self, hook_name: str) -> list[tuple[Any, ...]]:
        """Call a ``register_*`` hook and return the argument tuples it registered."""
        got: list[tuple[Any, ...]] = []
        caller = getattr(self.hook, hook_name, None)
        if caller is None:  # declared by a plugin that is not loaded, implemented by none
            return got
        caller(register=lambda *args: got.append(args))
        return got

    def observes(self, hook_name: str) -> bool:
        """Whether any plugin implements the hook (lets callers skip building arguments)."""
        caller = getattr(self.hook, hook_name, None)
        return caller is not None and bool(caller.get_hookimpls())

    #: A lifecycle hook call slower than this many seconds is logged (a warning naming it).
    slow_hook_seconds = 1.0

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; an exception from an observer is logged, never raised, and so
        is a call slower than :attr:`slow_hook_seconds`."""
        caller = getattr(self.hook, hook_name, None)
        impls = caller.get_hookimpls() if caller is not None else []
        if caller is None or not impls:
            return
        started = time.monotonic()
        try:
            caller(**kwargs)
        except Exception:
            _log().exception("hook failed", hook=hook_name)
        elapsed = time.monotonic() - started
        if elapsed >= self.slow_hook_seconds:
            _log().warning(
                "slow hook",
                hook=hook_name,
                seconds=round(elapsed, 3),
                plugins=[self.pm.get_name(i.plugin) for i in impls],
            )


def _log() -> Any:
    import structlog  # on first use: the CLI starts without it

    return structlog.get_logger("jobworker")


def _canonical(name: str) -> str:
    """A distribution or entry-point name normalised as PEP 503 says (``Foo_Bar`` ->
    ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _label(info: PluginInfo) -> str:
    return f"{info.name} ({info.distribution} {info.version})" if info.distribution else info.name


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _entry_point_order(ep: md.EntryPoint) -> tuple[str, str]:
    return (_canonical(ep.dist.name) if ep.dist else "", ep.name)


def _dist_version(dist: str | None) -> str | None:
    if not dist:
        return None
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


# A PEP 508 requirement line starts with the distribution's name; a plain one (no URL, no
# marker) is the name, maybe extras, then the version specifiers.
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_PLAIN_SPECIFIERS = re.compile(r"\s*(?:\[[^\]]*\])?\s*\(?([^;@()\[\]]*)\)?\s*")


def _incompatibility(dist: md.Distribution) -> str | None:
    """A plugin declares the core versions it supports as a ``jobworker`` requirement.

    Only lines naming jobworker are read, and a plain one (``jobworker>=0.1,<0.2``, as built
    metadata writes it) with packaging's specifiers alone: ``packaging.requirements`` is slow to
    import (a quick ``submit``) and is used only for lines with a marker or a URL. A line that
    :func:`_plainly_allows` the core needs neither (packaging compiles its version patterns on
    import, a tenth of a ``submit``)."""
    lines = []
    for text in dist.requires or []:
        if (name := _REQUIREMENT_NAME.match(text)) and _canonical(name[1]) == "jobworker":
            lines.append(text[name.end() :])
    plain_lines = [_PLAIN_SPECIFIERS.fullmatch(rest) for rest in lines]
    if all(plain and _plainly_allows(plain[1], core_version()) for plain in plain_lines):
        return None

    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        core = Version(core_version())
    except InvalidVersion:  # pragma: no cover - a hand-made core install
        return None
    for rest in lines:
        plain = _PLAIN_SPECIFIERS.fullmatch(rest)
        try:
            specifier = SpecifierSet(plain[1]) if plain else _specifier(f"jobworker{rest}")
        except InvalidSpecifier:
            specifier = _specifier(f"jobworker{rest}")
        if specifier and not specifier.contains(core, prereleases=True):
            return (
                f"{dist.name} {dist.version} requires jobworker{specifier}, "
                f"but jobworker {core} is installed; not loaded"
            )
    return None


_RELEASE = re.compile(r"\d+(?:\.\d+)*")
_CLAUSE = re.compile(r"\s*(>=|<=|==|!=|<|>)\s*(\d+(?:\.\d+)*)\s*")
_COMPARE: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}


def _plainly_allows(specifiers: str, version: str) -> bool:
    """Whether ``specifiers`` (``>=0.1,<0.2``) surely allow the final release ``version``
    (``0.1.0``): when both are plain release numbers and the operators plain comparisons,
    PEP 440 compares them as tuples of integers padded with zeros. ``False`` means "ask
    packaging" (wildcards, ``~=``, pre-, post- or dev releases, or a version not allowed)."""
    if not _RELEASE.fullmatch(version):
        return False
    if not specifiers.strip():
        return True
    clauses = [_CLAUSE.fullmatch(clause) for clause in specifiers.split(",")]
    core = tuple(int(part) for part in version.split("."))
    for clause in clauses:
        if clause is None:
            return False
        bound = tuple(int(part) for part in clause[2].split("."))
        width = max(len(core), len(bound))
        padded = (core + (0,) * (width - len(core)), bound + (0,) * (width - len(bound)))
        if not _COMPARE[clause[1]](*padded):
            return False
    return True


def _specifier(text: str) -> SpecifierSet | None:
    """The versions a full requirement line allows; ``None`` when it is invalid or does not
    apply here (an optional extra's requirement, or one for another platform)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    return req.specifier


# -- the plugins of this process, for handlers (ctx.collect) ----------------------------------

_ACTIVE: Plugins | None = None
_LOADED: dict[tuple[str | None, str | None, tuple[str, ...]], Plugins] = {}


def activate(plugins: Plugins | None) -> Plugins | None:
    """Make ``plugins`` what :func:`active` returns in this process (a running worker does
    this; ``None`` undoes it). Returns the previous value."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, plugins
    return previous


def active(modules: Sequence[str] = ()) -> Plugins:
    """The plugins of this process: the running worker's; else (a process-executor child, a
    script) installed plugins plus ``modules``, loaded once per environment."""
    if _ACTIVE is not None:
        return _ACTIVE
    key = (
        os.environ.get("JOBWORKER_PLUGINS"),
        os.environ.get("JOBWORKER_EXTRA_PLUGINS"),
        tuple(modules),
    )
    if key not in _LOADED:
        _LOADED[key] = Plugins.load(modules)
    return _LOADED[key]


def module_names(plugins: Plugins) -> tuple[str, ...]:
    """Names of the plain modules registered (``--plugin``, config, tests), so a child process
    can load the same plugins."""
    import types

    return tuple(
        p.__name__
        for p in plugins.pm.get_plugins()
        if isinstance(p, types.ModuleType)
        and plugins.pm.get_name(p) == p.__name__
        and not p.__name__.startswith("jobworker.")
    )
