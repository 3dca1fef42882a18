"""Who is asking, and may they: API keys, scopes, ownership and per-key rate limits.

A request carries its key as ``Authorization: Bearer <token>`` or, as the old system's clients
do, ``X-Secretary-Api-Key: <token>`` (read only when there is no Bearer header), or as the
dashboard's ``jobworker_key`` cookie (``HttpOnly``, ``SameSite=Strict``). Tokens are keys made
by ``jobworker keys create`` (stored hashed) or the one configured legacy key.

Scopes: ``read`` reads its own jobs and batches; ``submit`` also submits, cancels and retries
its own; ``admin`` does everything with every key's jobs. A job belongs to the key that
submitted it (extra field ``owner_key``); another key's job answers 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from typing import Any

import attrs
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from ..model import Batch, Job
from .config import ServerConfig
from .errors import ApiError

__all__ = ["COOKIE", "Principal", "RateLimiter", "principal_of", "scope"]

COOKIE = "jobworker_key"
LEGACY_KEY_ID = "legacy"


@attrs.define(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes

    def allows(self, scope: str) -> bool:
        """``admin`` allows everything, ``submit`` includes ``read``."""
        return self.admin or scope in self.scopes or (scope == "read" and "submit" in self.scopes)

    def owns(self, item: Job | Batch) -> bool:
        return self.admin or item.unknown.get("owner_key") == self.key_id

    @property
    def owner_filter(self) -> str | None:
        """The owner to filter listings by (``None`` for admin: everything)."""
        return None if self.admin else self.key_id


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """0 if the request may go ahead, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[key_id] = (tokens - 1, now)
            return 0.0


def token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    auth = connection.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    legacy = connection.headers.get("x-secretary-api-key")
    if legacy:
        return legacy.strip()
    return connection.cookies.get(COOKIE) or None


def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], token: str | None
) -> Principal | None:
    state = connection.app.state
    config: ServerConfig = state.config
    if not token:
        return None
    if config.legacy_key and hmac.compare_digest(token.encode(), config.legacy_key.encode()):
        return Principal(LEGACY_KEY_ID, "legacy shared key", frozenset(config.legacy_scopes))
    key = state.api_keys.authenticate(token)
    if key is None:
        return None
    return Principal(key.key_id, key.name, frozenset(key.scopes))


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller (set by the :func:`scope` guard)."""
    principal: Principal = connection.scope["state"]["principal"]
    return principal


def scope(name: str) -> Any:
    """A guard: the caller must hold a key allowing ``name``; also applies the rate limit."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = authenticate(connection, token_of(connection))
        if principal is None:
            raise ApiError(401, "UNAUTHORIZED", "invalid or missing API key")
        wait = connection.app.state.limiter.take(principal.key_id)
        if wait:
            error = ApiError(
                429,
                "RATE_LIMITED",
                f"too many requests; retry in {wait:.2f} s",
                {"retry_after": round(wait, 2)},
            )
            error.headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            raise error
        if not principal.allows(name):
            raise ApiError(403, "FORBIDDEN", f"this key lacks the {name!r} scope")
        connection.scope.setdefault("state", {})["principal"] = principal

    guard.__name__ = f"scope_{name}"
    return guard
