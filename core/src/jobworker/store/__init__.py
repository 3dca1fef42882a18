"""Stores: the contract (:mod:`.base`) and its backends, chosen by URL.

* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (default
  ``sqlite:///jobworker.db``); query options ``synchronous=NORMAL|FULL``, ``log_cap=N``,
  ``wal_autocheckpoint=PAGES`` (default 10,000), ``busy_timeout_ms=N``, ``group_sync=false``
  (with ``FULL``: let SQLite sync each commit under the write lock, see
  :mod:`.sqlite.walsync`).
* ``mongodb://host/db`` or ``mongodb+srv://...`` (needs ``pymongo``; see :mod:`.mongo`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from .base import Claim, Outcome, Purged, Store, StoreError, Transition

__all__ = [
    "DEFAULT_URL",
    "Claim",
    "Outcome",
    "Purged",
    "Store",
    "StoreError",
    "Transition",
    "open_store",
]

DEFAULT_URL = "sqlite:///jobworker.db"


def open_store(url: str = DEFAULT_URL, **options: Any) -> Store:
    """Open (and initialise) the store that ``url`` names. ``options`` are backend settings,
    e.g. from the config file's ``[store_options]`` table; query parameters in the URL win."""
    from .base import StoreError

    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        query = dict(parse_qsl(urlsplit(url).query))
        store: Store = SQLiteStore.from_url(url, **{**options, **query})
    elif scheme in ("mongodb", "mongodb+srv"):
        try:
            from .mongo import MongoStore
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise StoreError(
                f"the MongoDB store needs pymongo: pip install './core[mongodb]' in the jobworker "
                f"checkout, or pip install pymongo ({exc})"
            ) from exc
        store = MongoStore.from_url(url, **options)
    else:
        raise StoreError(
            f"unknown store URL scheme {scheme!r} in {url!r}: "
            f"use sqlite:///path.db or mongodb://host/db"
        )
    store.init()
    return store


def __getattr__(name: str) -> Any:
    """The contract's names, imported from :mod:`.base` on first use (a quick CLI start)."""
    if name in ("Claim", "Outcome", "Purged", "Store", "StoreError", "Transition"):
        value = getattr(importlib.import_module(".base", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
