"""Stores of every backend for tests: SQLite always, MongoDB when ``MONGO_URI`` is set."""

from __future__ import annotations

import os
import uuid

from jobworker.store import Store, open_store

BACKENDS = ["sqlite"] + (["mongo"] if os.environ.get("MONGO_URI") else [])


def make_store(backend: str, tmp_path, **options) -> Store:
    """``backend``: one of :data:`BACKENDS`, or ``sqlite-full`` (``synchronous=FULL``, whose
    commits are synced in groups)."""
    if backend == "sqlite":
        return open_store(f"sqlite:///{tmp_path}/jobs.db", **options)
    if backend == "sqlite-full":
        return open_store(f"sqlite:///{tmp_path}/jobs.db?synchronous=FULL", **options)
    from urllib.parse import urlsplit, urlunsplit

    # One fresh database per test on the server MONGO_URI names.
    parts = urlsplit(os.environ["MONGO_URI"])
    url = urlunsplit(parts._replace(path=f"/jwtest_{uuid.uuid4().hex[:12]}"))
    return open_store(url, **options)
