"""Where a job's or a batch's webhook configuration lives, and how it is read and checked.

A job: ``parameters.webhook`` (in documents older than 2025-08-23: ``parameters.extra.webhook``)::

    {"url": "https://client.example/hook", "secret": "whsec_...",
     "events": ["completed", "failed"], "token": "legacy-callback-token", "jobId": "client-id"}

Only ``url`` is required. ``events`` defaults to ``["completed", "failed"]`` and may add
``"progress"``. ``token`` (legacy) is sent as ``Authorization: Bearer`` and ``X-Callback-Token``;
``jobId`` (legacy) is echoed as ``external_id``.

A batch: ``webhook`` on the batch document, ``events`` from ``"batch.finished"`` (default),
``"completed"`` and ``"failed"`` (every job of the batch as it finishes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..errors import InvalidParameters
from ..model import Batch, Job

__all__ = [
    "BATCH_EVENTS",
    "EVENT_NAMES",
    "JOB_EVENTS",
    "WebhookConfig",
    "batch_webhook",
    "check_webhook",
    "job_webhooks",
    "parse_webhook",
]

JOB_EVENTS = frozenset({"completed", "failed", "progress"})
BATCH_EVENTS = frozenset({"completed", "failed", "batch.finished"})
EVENT_NAMES = {
    "completed": "job.completed",
    "failed": "job.failed",
    "progress": "job.progress",
    "batch.finished": "batch.finished",
}
_KEYS = frozenset({"url", "events", "secret", "token", "jobId", "external_id"})


@attrs.define(frozen=True)
class WebhookConfig:
    url: str
    events: frozenset[str]
    secret: str | None = None
    token: str | None = None
    external_id: str | None = None
    source: str = "job"  # "job", "legacy" (parameters.extra.webhook) or "batch"


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)):
        raise InvalidParameters(f"webhook.{key} must be a string, not {type(value).__name__}")
    return str(value)


def parse_webhook(
    raw: object, *, batch: bool = False, source: str = "job", strict: bool = False
) -> WebhookConfig:
    """Read a stored (or submitted) webhook configuration.

    :param strict: refuse unknown keys (at submit time); stored documents may carry others.
    :raises InvalidParameters: naming what is wrong.
    """
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, Mapping):
        raise InvalidParameters(f"webhook must be an object with a url, not {type(raw).__name__}")
    if strict and set(raw) - _KEYS:
        raise InvalidParameters(
            f"unknown webhook key(s): {', '.join(sorted(set(raw) - _KEYS))}; "
            f"accepted: {', '.join(sorted(_KEYS))}"
        )
    url = _text(raw, "url")
    if not url:
        raise InvalidParameters("webhook.url is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameters(
            f"webhook.url must be an http or https URL with a host, not {url[:200]!r}"
        )
    if parts.username or parts.password:
        raise InvalidParameters(
            "webhook.url must not contain a user name or password (use token or secret)"
        )
    allowed = BATCH_EVENTS if batch else JOB_EVENTS
    events = raw.get("events")
    if events is None:
        chosen = {"batch.finished"} if batch else {"completed", "failed"}
    else:
        if isinstance(events, str) or not isinstance(events, (list, tuple, set, frozenset)):
            raise InvalidParameters("webhook.events must be a list of event names")
        chosen = {str(e).removeprefix("job.") for e in events}
        if chosen - allowed:
            raise InvalidParameters(
                f"unknown webhook event(s) {', '.join(sorted(chosen - allowed))}; "
                f"{'a batch' if batch else 'a job'} accepts {', '.join(sorted(allowed))}"
            )
    return WebhookConfig(
        url,
        frozenset(chosen),
        _text(raw, "secret"),
        _text(raw, "token"),
        _text(raw, "jobId") or _text(raw, "external_id"),
        "batch" if batch else source,
    )


def check_webhook(raw: object, *, batch: bool = False) -> dict[str, Any]:
    """A submitted configuration, checked and in its stored form (for the client API)."""
    config = parse_webhook(raw, batch=batch, strict=True)
    stored: dict[str, Any] = {"url": config.url, "events": sorted(config.events)}
    for key, value in (
        ("secret", config.secret),
        ("token", config.token),
        ("jobId", config.external_id),
    ):
        if value is not None:
            stored[key] = value
    return stored


def job_webhooks(job: Job) -> tuple[WebhookConfig | None, str | None]:
    """The job's own webhook (``parameters.webhook``, else legacy ``parameters.extra.webhook``)
    and, if one is configured but unusable, why."""
    raw, source = job.parameters.values.get("webhook"), "job"
    if not raw:
        raw, source = job.parameters.extra.get("webhook"), "legacy"
    if not raw:
        return None, None
    try:
        return parse_webhook(raw, source=source), None
    except InvalidParameters as exc:
        return None, exc.message


def batch_webhook(batch: Batch) -> tuple[WebhookConfig | None, str | None]:
    """The batch's webhook (``webhook`` on the batch document) and, if unusable, why."""
    raw = batch.unknown.get("webhook")
    if not raw:
        return None, None
    try:
        return parse_webhook(raw, batch=True), None
    except InvalidParameters as exc:
        return None, exc.message
