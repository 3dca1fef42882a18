"""API keys of the HTTP server (``jobworker keys``, ``jobworker serve``): the record and the
contract each backend's key table implements (:mod:`.sqlite.apikeys`, :mod:`.mongo.apikeys`).

A key is shown once, when it is created: ``jw_<key_id>_<secret>``. Only the SHA-256 of the whole
token is stored (the secret is 32 random bytes, so a fast hash is enough: there is nothing to
brute-force), looked up by ``key_id`` and compared in constant time.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import secrets
from datetime import datetime

import attrs

from ..model import utcnow

__all__ = ["SCOPES", "ApiKey", "KeyStore", "hash_token", "split_token"]

#: ``submit``: create jobs and batches, read and cancel its own; ``read``: read its own;
#: ``admin``: everything, every key's jobs.
SCOPES = ("submit", "read", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> str | None:
    """The key id inside a token, or ``None`` if it is not one of ours."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != "jw" or not parts[1] or not parts[2]:
        return None
    return parts[1]


@attrs.define
class ApiKey:
    key_id: str
    name: str
    scopes: list[str]
    token_hash: str
    created_at: datetime = attrs.Factory(utcnow)
    revoked_at: datetime | None = None

    @classmethod
    def new(cls, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the token exists in clear)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ValueError(f"scopes must be some of {', '.join(SCOPES)}, not {scopes!r}")
        key_id = secrets.token_hex(6)
        token = f"jw_{key_id}_{secrets.token_urlsafe(32).replace('_', '-')}"
        return cls(key_id, name, sorted(set(scopes)), hash_token(token)), token

    def matches(self, token: str) -> bool:
        return self.revoked_at is None and hmac.compare_digest(self.token_hash, hash_token(token))

    def public(self) -> dict[str, object]:
        """What ``jobworker keys list`` shows: never the hash."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class KeyStore(abc.ABC):
    """The API keys table or collection of one store (``Store.api_keys()``)."""

    @abc.abstractmethod
    def add(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def get(self, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def list(self) -> list[ApiKey]: ...

    @abc.abstractmethod
    def revoke(self, key_id: str) -> bool:
        """Mark the key revoked; ``False`` if there is no such key (or it was revoked)."""

    def authenticate(self, token: str) -> ApiKey | None:
        key_id = split_token(token)
        key = self.get(key_id) if key_id else None
        return key if key is not None and key.matches(token) else None
