"""``jobworker plugin new``: a new plugin package from the templates beside this module.

The generated package is complete: a ``pyproject.toml`` with the entry point and the supported
core versions, a handler with a validated parameters class, tests using :mod:`jobworker.testing`
that pass right away, and a README.
"""

from __future__ import annotations

import json
import keyword
import re
import string
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PluginNames", "core_requirement", "new_plugin", "plugin_names"]

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PREFIX = "worker-plugin-"


class PluginNames:
    """The names one plugin uses: distribution, import package, job type, class prefix."""

    def __init__(self, slug: str) -> None:
        self.slug = slug  # hello-world
        self.job_type = slug.replace("-", "_")  # hello_world
        self.dist = _PREFIX + slug  # worker-plugin-hello-world
        self.package = "worker_plugin_" + self.job_type  # worker_plugin_hello_world
        self.title = "".join(p.capitalize() for p in self.job_type.split("_"))  # HelloWorld


def plugin_names(name: str) -> PluginNames:
    """Names for ``name`` (``hello``, ``hello-world`` or ``worker-plugin-hello``).

    :raises ValueError: not a lower-case name of letters, digits and single ``-``/``_``.
    """
    slug = name.strip().lower().replace("_", "-")
    slug = slug.removeprefix(_PREFIX)
    if not _NAME.fullmatch(slug) or keyword.iskeyword(slug.replace("-", "_")):
        raise ValueError(
            f"{name!r} is not a usable plugin name: use lower-case letters, digits and single "
            "hyphens, starting with a letter (e.g. 'wordcount' or 'word-count')"
        )
    return PluginNames(slug)


def core_requirement(version: str) -> str:
    """The jobworker requirement a new plugin declares: this core's release series.

    ``0.1.3`` gives ``jobworker>=0.1,<0.2`` (before 1.0 a minor release may break plugins);
    ``1.4.0`` gives ``jobworker>=1.4,<2``.
    """
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"jobworker>={major}.{minor},<{upper}"


def new_plugin(
    name: str, parent: Path, *, description: str | None = None, core_version: str = "0.1.0"
) -> Path:
    """Write a new plugin package into ``parent / worker-plugin-<name>`` and return that path.

    :raises ValueError: a bad name.
    :raises FileExistsError: the target directory exists and is not empty.
    """
    names = plugin_names(name)
    target = Path(parent) / names.dist
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} already exists and is not empty")
    description = " ".join(
        (description or f"jobworker plugin: the {names.job_type} job type").split()
    )  # one line
    values = {
        "dist": names.dist,
        "package": names.package,
        "job_type": names.job_type,
        "title": names.title,
        "description": description.replace("\\", "/").replace(3 * '"', "'"),  # docstrings
        "description_toml": json.dumps(description, ensure_ascii=False),
        "core_requirement": core_requirement(core_version),
    }
    root = resources.files(__package__) / "template"
    for source, relative in _walk(root, ""):
        relative = (
            relative.replace("__package__", names.package)
            .replace("__job_type__", names.job_type)
            .replace("dot-", ".")
            .removesuffix(".tmpl")
        )
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = string.Template(source.read_text(encoding="utf-8")).substitute(values)
        path.write_text(text, encoding="utf-8")
    return target


def _walk(node: Any, prefix: str) -> Iterator[tuple[Any, str]]:
    """``(resource, relative path)`` of every template file under ``node`` (a Traversable)."""
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        relative = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, relative + "/")
        elif child.name.endswith(".tmpl"):
            yield child, relative
