"""The SQLite store's API keys table (contract: :mod:`.apikeys`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...model import utcnow
from ..apikeys import ApiKey, KeyStore

if TYPE_CHECKING:
    from .connection import SQLiteConnection as SQLiteStore

__all__ = ["SQLiteKeys"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""
_COLS = "key_id, name, scopes, token_hash, created_at, revoked_at"


def _key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, scopes, token_hash, created, revoked = row
    return ApiKey(
        key_id,
        name,
        json.loads(scopes),
        token_hash,
        datetime.fromisoformat(created),
        datetime.fromisoformat(revoked) if revoked else None,
    )


class SQLiteKeys(KeyStore):
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        with store._tx() as db:
            db.execute(SCHEMA)

    def add(self, key: ApiKey) -> None:
        with self._store._tx() as db:
            db.execute(
                f"INSERT INTO api_keys ({_COLS}) VALUES (?,?,?,?,?,?)",
                (
                    key.key_id,
                    key.name,
                    json.dumps(key.scopes),
                    key.token_hash,
                    key.created_at.isoformat(),
                    None,
                ),
            )

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._store._query(f"SELECT {_COLS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def list(self) -> list[ApiKey]:
        return [
            _key(r) for r in self._store._query(f"SELECT {_COLS} FROM api_keys ORDER BY created_at")
        ]

    def revoke(self, key_id: str) -> bool:
        with self._store._tx() as db:
            cur = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (utcnow().isoformat(), key_id),
            )
            return cur.rowcount > 0
