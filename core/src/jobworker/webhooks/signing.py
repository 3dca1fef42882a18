"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"``, sent as one header.

``Jobworker-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff...``

``t`` is the Unix time the attempt was signed (each attempt is signed anew); ``v1`` the lower-case
hex HMAC-SHA256 of ``f"{t}.".encode() + body`` keyed with the webhook's secret (UTF-8). Several
``v1`` entries may appear (e.g. while a secret is rotated); one match is enough. Receivers check
it with :func:`verify_webhook` (also exported as ``jobworker.verify_webhook``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookSignatureError",
    "sign",
    "signature_header",
    "verify_webhook",
]

SIGNATURE_HEADER = "Jobworker-Signature"


class WebhookSignatureError(ValueError):
    """The request is not a genuine, fresh jobworker webhook."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body`` with ``secret``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(
    secrets: str | Iterable[str], body: bytes, timestamp: int | None = None
) -> str:
    """The value of the ``Jobworker-Signature`` header for ``body``, signed now."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return ",".join([f"t={t}", *(f"v1={sign(k, t, body)}" for k in keys)])


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name.lower():
            return value
    return None


def verify_webhook(
    secret: str | Iterable[str],
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a received webhook and return its decoded JSON payload.

    :param secret: the webhook's secret, or several (any may match: key rotation).
    :param headers: the request headers (any mapping or ``(name, value)`` pairs; names are
        matched case-insensitively).
    :param body: the raw request body, exactly as received (not re-serialised JSON).
    :param tolerance: seconds the signature's timestamp may differ from now (replay window).
    :raises WebhookSignatureError: no or malformed header, timestamp outside the window, or no
        signature matches.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    value = _header(headers, SIGNATURE_HEADER)
    if not value:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp, signatures = None, []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t":
            timestamp = item
        elif key == "v1":
            signatures.append(item)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > tolerance:
        raise WebhookSignatureError(
            f"timestamp outside the tolerance of {tolerance} s (age {age:.0f} s): "
            f"a replay or a wrong clock"
        )
    keys = [secret] if isinstance(secret, str) else list(secret)
    expected = [sign(k, int(timestamp), raw) for k in keys]
    if not any(hmac.compare_digest(e.encode(), s.encode()) for e in expected for s in signatures):
        raise WebhookSignatureError("signature mismatch")
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise WebhookSignatureError(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookSignatureError("body is not a JSON object")
    return payload
