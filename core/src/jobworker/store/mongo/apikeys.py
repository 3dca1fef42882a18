"""The MongoDB store's API keys collection (contract: :mod:`.apikeys`)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from ...model import _to_datetime, utcnow
from ..apikeys import ApiKey, KeyStore
from ..base import StoreError

__all__ = ["MongoKeys"]


class MongoKeys(KeyStore):
    def __init__(self, collection: Collection[Any]) -> None:
        self._keys = collection
        self._keys.create_index([("key_id", ASCENDING)], unique=True)

    def add(self, key: ApiKey) -> None:
        doc = {
            "key_id": key.key_id,
            "name": key.name,
            "scopes": list(key.scopes),
            "token_hash": key.token_hash,
            "created_at": key.created_at,
            "revoked_at": None,
        }
        try:
            self._keys.insert_one(doc)
        except DuplicateKeyError as exc:
            raise StoreError(f"key {key.key_id} already exists") from exc

    def get(self, key_id: str) -> ApiKey | None:
        doc = self._keys.find_one({"key_id": key_id})
        return None if doc is None else _key(doc)

    def list(self) -> list[ApiKey]:
        return [_key(d) for d in self._keys.find().sort("created_at", ASCENDING)]

    def revoke(self, key_id: str) -> bool:
        result = self._keys.update_one(
            {"key_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        return result.modified_count > 0


def _key(doc: dict[str, Any]) -> ApiKey:
    revoked = doc.get("revoked_at")
    return ApiKey(
        str(doc["key_id"]),
        str(doc.get("name", "")),
        [str(s) for s in doc.get("scopes", [])],
        str(doc["token_hash"]),
        _to_datetime(doc["created_at"]),
        _to_datetime(revoked) if revoked else None,
    )
