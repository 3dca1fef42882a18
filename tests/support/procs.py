"""Helpers for tests that drive real ``jobworker`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SUPPORT = Path(__file__).resolve().parent
T = TypeVar("T")


def pythonpath(*folders: Path | str) -> str:
    """``PYTHONPATH`` for a child process: ``folders``, then the caller's own (so that
    ``PYTHONPATH=<checkout>/core/src pytest`` tests that checkout's core in children too)."""
    return os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])


def child_env(*folders: Path | str, **extra: str) -> dict[str, str]:
    """The environment of a ``jobworker`` child: this one, :func:`pythonpath` of ``folders``
    (default: the support modules), no installed plugins, then ``extra``."""
    return {
        **os.environ,
        "PYTHONPATH": pythonpath(*(folders or (SUPPORT,))),
        "JOBWORKER_PLUGINS": "",
        **extra,
    }


def jobworker_process(
    store_url: str, *args: str, cwd: Path, plugin: str = "testjobs", **popen: Any
) -> subprocess.Popen:
    """``python -m jobworker --store URL --plugin testjobs ARGS`` with only that plugin."""
    env = child_env()
    popen.setdefault("stdout", subprocess.DEVNULL)
    popen.setdefault("stderr", subprocess.DEVNULL)
    return subprocess.Popen(
        [sys.executable, "-m", "jobworker", "--store", store_url, "--plugin", plugin, *args],
        env=env,
        cwd=cwd,
        **popen,
    )


def wait_until(predicate: Callable[[], T], timeout: float = 90.0, interval: float = 0.05) -> T:
    """The first truthy value of ``predicate()``; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def records(path: Path) -> list[list[str]]:
    """The lines ``testjobs`` handlers appended to their ``record`` file, split."""
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []
