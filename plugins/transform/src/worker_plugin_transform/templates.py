"""Where templates come from: the plugin's own, other plugins' (``register_templates``), and
configured template directories.

A template's name is its file name without the template suffixes: ``Session.md.j2`` ->
``Session``. Later sources win: built-in < registered by plugins < ``template_dirs`` from the
settings (the operator's word is last). Names are case-sensitive; a name differing only in case
is reported as a suggestion. Only files directly inside a directory are templates, so a name
can never reach outside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader
from jinja2 import exceptions as jexc

from .errors import TemplateNotFound
from .guards import Limits
from .sandbox import SafeEnvironment

__all__ = [
    "BUILTIN_DIR",
    "TemplateRegistry",
    "environment_for",
    "registered_templates",
    "template_name",
]

BUILTIN_DIR = Path(__file__).parent / "templates"
_SUFFIXES = (".j2", ".jinja", ".jinja2")
_INNER_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".yaml", ".json")


def template_name(path: Path) -> str | None:
    """``Session.md.j2`` -> ``Session``; ``None`` if ``path`` is not a template file."""
    name = path.name
    if name.startswith("."):
        return None
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        return None
    for suffix in _INNER_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] or None
    return name or None


def _scan(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return found
    for path in entries:
        name = template_name(path)
        if name and path.is_file():
            found[name] = path
    return found


def registered_templates() -> tuple[tuple[str, str], ...]:
    """Templates handed over by the plugins' ``register_templates``: the worker's plugins (in
    a process-executor child, the same plugins loaded there), else the installed ones."""
    from jobworker import active_plugins as active

    got = active().collect("register_templates")
    return tuple((str(args[0]), str(args[1])) for args in got if len(args) >= 2)


class TemplateRegistry:
    """The templates one job can use, by name."""

    def __init__(
        self,
        dirs: Iterable[str | os.PathLike[str]] = (),
        registered: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        *,
        builtins: bool = True,
    ) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        items = registered.items() if isinstance(registered, Mapping) else registered
        self.registered = dict(items)
        self.builtins = builtins

    def _files(self) -> dict[str, Path]:
        files = _scan(BUILTIN_DIR) if self.builtins else {}
        for name in self.registered:
            files.pop(name, None)
        for directory in self.dirs:
            files.update(_scan(directory))
        return files

    def names(self) -> list[str]:
        return sorted({*self._files(), *self.registered})

    def source(self, name: str) -> tuple[str, Callable[[], bool]]:
        """The template's source and an up-to-date check (file mtime)."""
        path = self._files().get(name)
        if path is not None:
            mtime = path.stat().st_mtime
            return path.read_text(encoding="utf-8"), lambda: _mtime(path) == mtime
        if name in self.registered:
            return self.registered[name], lambda: True
        raise self.not_found(name)

    def not_found(self, name: str) -> TemplateNotFound:
        names = self.names()
        close = [n for n in names if n.lower() == str(name).lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return TemplateNotFound(
            f"no template named {name!r}{hint}; available: {', '.join(names) or 'none'}",
            details={"template": str(name), "available": names},
        )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


class RegistryLoader(BaseLoader):
    """A Jinja loader over a :class:`TemplateRegistry` (also serves ``include``/``extends``)."""

    def __init__(self, registry: TemplateRegistry) -> None:
        self.registry = registry

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Callable[[], bool]]:
        try:
            source, uptodate = self.registry.source(template)
        except TemplateNotFound:
            raise jexc.TemplateNotFound(template) from None
        return source, None, uptodate

    def list_templates(self) -> list[str]:
        return self.registry.names()


_ENVIRONMENTS: dict[tuple[Any, ...], SafeEnvironment] = {}


def environment_for(
    limits: Limits,
    dirs: Sequence[str | os.PathLike[str]] = (),
    registered: Iterable[tuple[str, str]] | None = None,
) -> SafeEnvironment:
    """A cached environment for these limits and template sources (compiled templates are
    reused across jobs in a process). ``registered=None`` means the installed plugins'."""
    reg = tuple(registered_templates() if registered is None else registered)
    key = (limits, tuple(str(d) for d in dirs), reg)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        from .tools import template_filters, template_globals

        env = SafeEnvironment(
            limits,
            RegistryLoader(TemplateRegistry(dirs, reg)),
            filters=template_filters(),
            globals=template_globals(),
        )
        if len(_ENVIRONMENTS) > 16:
            _ENVIRONMENTS.clear()
        _ENVIRONMENTS[key] = env
    return env
