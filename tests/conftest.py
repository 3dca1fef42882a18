"""Shared fixtures: stores of every backend, and a clean plugin environment for core tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from jobworker.store import Store, open_store

BACKENDS = ["sqlite"] + (["mongo"] if os.environ.get("MONGO_URI") else [])


def make_store(backend: str, tmp_path, **options) -> Store:
    if backend == "sqlite":
        return open_store(f"sqlite:///{tmp_path}/jobs.db", **options)
    from urllib.parse import urlsplit, urlunsplit

    # One fresh database per test on the server MONGO_URI names.
    parts = urlsplit(os.environ["MONGO_URI"])
    url = urlunsplit(parts._replace(path=f"/jwtest_{uuid.uuid4().hex[:12]}"))
    return open_store(url, **options)


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
