"""Shared fixtures: stores of every backend, and a clean plugin environment for core tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helper modules (job types for tests, store factory) importable by tests and subprocesses.
SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))

from jobworker.store import Store  # noqa: E402
from storefactory import BACKENDS, make_store  # noqa: E402

if os.environ.get("JOBWORKER_RECORD_MONGO"):  # tests/test_mongo_indexes.py records a suite
    from mongo_commands import CommandRecorder
    from pymongo import monitoring

    monitoring.register(CommandRecorder(os.environ["JOBWORKER_RECORD_MONGO"]))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_factory(backend, tmp_path) -> Iterator:
    """``store_factory(**options)``: a store of the test's backend; closed (and dropped) after."""
    made: list[Store] = []

    def factory(**options) -> Store:
        made.append(make_store(backend, tmp_path, **options))
        return made[-1]

    yield factory
    for s in made:
        drop = getattr(s, "drop_database", None)
        if drop:
            drop()
        s.close()


@pytest.fixture
def store(store_factory) -> Store:
    return store_factory()


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch):
    """Core tests see only the plugins they register themselves, not what is pip-installed."""
    monkeypatch.setenv("JOBWORKER_PLUGINS", "")
