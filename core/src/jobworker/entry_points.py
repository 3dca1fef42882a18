"""Installed entry points of one name, found without importing :mod:`importlib.metadata`.

``jobworker submit TYPE`` loads only the plugin whose entry point is named ``TYPE``; importing
``importlib.metadata`` (email, zipfile, csv) and building a distribution object for every
installed package cost about a tenth of the command. :func:`named_entry_points` reads the same
files the same way (``importlib.metadata``'s path finder: ``*.dist-info`` folders on
``sys.path``, the first distribution of each normalised name, ``entry_points.txt`` sections,
``METADATA`` headers), and returns ``None`` wherever it is not sure to agree: another
distribution finder on ``sys.meta_path``, a zip or egg on ``sys.path``, an ``.egg-info``
distribution, folded or non-ASCII headers, a malformed line. Then the caller asks
``importlib.metadata`` (``tests/test_cli_startup.py`` compares the two).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Protocol

__all__ = [
    "Distribution",
    "EntryPoint",
    "FoundDistribution",
    "FoundEntryPoint",
    "named_entry_points",
]


class Distribution(Protocol):
    """What the plugin loader reads of a distribution (``importlib.metadata.Distribution``)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def requires(self) -> list[str] | None: ...


class EntryPoint(Protocol):
    """What the plugin loader reads of an entry point (``importlib.metadata.EntryPoint``)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def dist(self) -> Distribution | None: ...
    def load(self) -> Any: ...


class FoundDistribution:
    def __init__(self, name: str, version: str, requires: list[str] | None) -> None:
        self.name, self.version, self.requires = name, version, requires


# importlib.metadata.EntryPoint.pattern
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class FoundEntryPoint:
    def __init__(self, name: str, value: str, group: str, dist: FoundDistribution) -> None:
        self.name, self.value, self.group, self.dist = name, value, group, dist

    def load(self) -> Any:
        """The object the entry point names, as ``importlib.metadata.EntryPoint.load``."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"invalid entry point value {self.value!r}")
        found: Any = importlib.import_module(match["module"])
        for attribute in filter(None, (match["attr"] or "").split(".")):
            found = getattr(found, attribute)
        return found


def _normalize(name: str) -> str:
    """``importlib.metadata.Prepared.normalize``."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _NotSure(Exception):
    """Something :func:`named_entry_points` does not read as importlib.metadata would."""


def named_entry_points(group: str, name: str) -> list[FoundEntryPoint] | None:
    """The entry points of ``group`` named ``name`` (compared PEP 503-normalised), in the
    order ``importlib.metadata.entry_points(group=group)`` gives them; ``None``: ask it."""
    try:
        return list(_find(group, _canonical(name)))
    except _NotSure:
        return None


def _find(group: str, name: str) -> list[FoundEntryPoint]:
    from importlib.machinery import PathFinder

    if any(
        getattr(finder, "find_distributions", None) is not None and finder is not PathFinder
        for finder in sys.meta_path
    ):
        raise _NotSure  # another finder may add distributions
    seen: set[str] = set()
    found = []
    for root in sys.path:
        for folder in _metadata_folders(root):
            stem, ext = os.path.splitext(os.path.basename(folder))
            if ext not in (".dist-info", ".egg-info"):
                raise _NotSure  # importlib.metadata would read the name from the metadata
            key = _normalize(stem.partition("-")[0])
            if key in seen:
                continue  # importlib.metadata keeps the first distribution of a name
            seen.add(key)
            text = _read(os.path.join(folder, "entry_points.txt"))
            if text is None or group not in text:
                continue
            if ext == ".egg-info":
                raise _NotSure  # its requirements are in requires.txt, with sections
            for section, ep_name, value in _pairs(text):
                if section == group and _canonical(ep_name) == name:
                    found.append(FoundEntryPoint(ep_name, value, group, _distribution(folder)))
    return found


def _metadata_folders(root: str) -> list[str]:
    """The ``*.dist-info`` and ``*.egg-info`` entries of a ``sys.path`` folder, grouped by
    normalised name in the order of their first appearance (``importlib.metadata.Lookup``)."""
    if os.path.basename(root).lower().endswith(".egg"):
        raise _NotSure
    try:
        children = os.listdir(root or ".")
    except Exception:
        if os.path.exists(root):
            raise _NotSure from None  # a zip file
        return []
    grouped: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            key = _normalize(low.rpartition(".")[0].partition("-")[0])
            grouped.setdefault(key, []).append(os.path.join(root, child))
    return [folder for folders in grouped.values() for folder in folders]


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


def _pairs(text: str) -> list[tuple[str, str, str]]:
    """``importlib.metadata.Sectioned.section_pairs``: (section, name, value)."""
    pairs = []
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is None:
            continue
        if "=" not in line:
            raise _NotSure  # importlib.metadata raises for it
        key, value = line.split("=", 1)
        pairs.append((section, key.strip(), value.strip()))
    return pairs


def _distribution(folder: str) -> FoundDistribution:
    """Name, version and ``Requires-Dist`` from ``METADATA``'s headers."""
    text = _read(os.path.join(folder, "METADATA")) or _read(os.path.join(folder, "PKG-INFO"))
    header = (text or "").split("\n\n", 1)[0]  # the body (the description) follows
    if not header or not header.isascii() or "\r" in header:
        raise _NotSure
    headers: dict[str, list[str]] = {}
    for line in header.split("\n"):
        if not line or line[0] in " \t" or ":" not in line:
            raise _NotSure  # a folded header or not a header: the email parser's business
        key, value = line.split(":", 1)
        headers.setdefault(key.lower(), []).append(value.lstrip(" \t"))
    if "name" not in headers or "version" not in headers:
        raise _NotSure
    requires = headers.get("requires-dist")
    if requires is None and os.path.exists(os.path.join(folder, "requires.txt")):
        raise _NotSure  # importlib.metadata would read that instead
    return FoundDistribution(headers["name"][0], headers["version"][0], requires)
