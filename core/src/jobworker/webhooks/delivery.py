"""Webhooks: signed, retried, SSRF-safe notifications for jobs and batches (docs/webhooks.md).

How it works:

1. The reactions below (``job_finished``, ``job_progress``, ``batch_finished``) are called by
   the core's announcement step (:mod:`jobworker.announce`) after a transition is committed, in
   a worker on its hook threads with store calls on its I/O thread. When the job (or its batch)
   has a webhook that wants the event, they store one *delivery*: a job of the core type
   ``webhook`` whose parameters hold the URL, the payload and the source job's id. Its
   ``idempotency_key`` names the transition, so one transition never yields two deliveries.
2. Any worker serving ``webhook`` sends it like any job: with a lease, retries with backoff
   (network errors, HTTP 408/429/5xx) up to ``max_attempts``, and recovery when its worker
   dies. 2xx is success; other answers and refused destinations fail at once.
3. Every attempt's outcome is logged on the delivery job and on the source job, so
   ``jobworker logs <job>`` shows what happened to its notifications.

Settings (``[plugins.webhook]`` in jobworker.toml): ``allow_private`` (CIDRs or host names that
may be private; default none), ``timeout`` (s, default 10), ``max_attempts`` (default 8, at
most 12), ``default_secret`` (signs webhooks that have no secret of their own),
``max_response_bytes`` (default 16384).
"""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import InputForbidden, JobFailure
from ..handler import JobContext
from ..model import Batch, Job, JobParameters, JobProgress, JobStatus, LogEntry, LogLevel, utcnow
from ..store import Store
from .config import EVENT_NAMES, WebhookConfig, batch_webhook, job_webhooks
from .job_type import ATTEMPTS_CEILING, JOB_TYPE, DeliveryParams, deliver, delivery_handler
from .payload import build_payload
from .signing import SIGNATURE_HEADER, signature_header

__all__ = [
    "DELIVERY_FAILED",
    "JOB_TYPE",
    "DeliveryParams",
    "WebhookSettings",
    "batch_finished",
    "deliver",
    "delivery_handler",
    "enqueue_delivery",
    "job_finished",
    "job_progress",
    "job_started",
    "send",
]

DELIVERY_FAILED = "WEBHOOK_DELIVERY_FAILED"
PROGRESS_INTERVAL = 2.0  # at most one progress event per job per this many seconds (per process)
_ORIGIN = ("webhook_origin", "jobworker")  # set on deliveries made here; clients cannot set it
_RETRIED_STATUS = frozenset({408, 429})

# Per-process state: the store of each running delivery (from job_started, for logging on the
# source job), the last progress event per job, and which batches have job-event webhooks.
_stores: collections.OrderedDict[str, Store] = collections.OrderedDict()
_last_progress: collections.OrderedDict[str, float] = collections.OrderedDict()
_batch_hooks: collections.OrderedDict[str, WebhookConfig | None] = collections.OrderedDict()
_CACHE = 4096
_lock = threading.Lock()  # hooks may run in several threads (worker loop, client calls)


@attrs.define
class WebhookSettings:
    allow_private: tuple[str, ...] = ()
    timeout: float = 10.0
    max_attempts: int = 8
    default_secret: str | None = None
    max_response_bytes: int = 16384

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> WebhookSettings:
        try:
            allow = raw.get("allow_private", ())
            if isinstance(allow, str):
                allow = [allow]
            s = cls(
                tuple(str(a) for a in allow),
                float(raw.get("timeout", 10.0)),
                int(raw.get("max_attempts", 8)),
                raw.get("default_secret") or None,
                int(raw.get("max_response_bytes", 16384)),
            )
        except (TypeError, ValueError) as exc:
            raise JobFailure(
                f"invalid [plugins.webhook] settings: {exc}", code="WEBHOOK_SETTINGS_INVALID"
            ) from None
        if s.timeout <= 0 or s.max_attempts < 1 or s.max_response_bytes < 0:
            raise JobFailure(
                "invalid [plugins.webhook] settings: timeout must be > 0, "
                "max_attempts >= 1, max_response_bytes >= 0",
                code="WEBHOOK_SETTINGS_INVALID",
            )
        s.max_attempts = min(s.max_attempts, ATTEMPTS_CEILING)
        return s


# -- storing deliveries (hooks) -------------------------------------------------------------


def _ms(job_or_batch: Job | Batch) -> int:
    when = job_or_batch.completed_at or job_or_batch.updated_at
    return int(when.timestamp() * 1000)


def enqueue_delivery(
    store: Store,
    config: WebhookConfig,
    event: str,
    *,
    key: str,
    job: Job | None = None,
    batch: Batch | None = None,
    progress: JobProgress | None = None,
) -> Job:
    """Store one delivery of ``event`` (short name) to ``config.url``; return the delivery job.

    ``key`` identifies the transition: storing the same key again returns the first delivery.
    """
    delivery_id = f"job-{uuid.uuid4()}"
    name = EVENT_NAMES[event]
    payload = build_payload(
        name,
        delivery_id,
        utcnow(),
        job=job,
        batch=batch,
        progress=progress,
        external_id=config.external_id,
    )
    params = DeliveryParams(
        config.url,
        name,
        payload,
        delivery_id,
        job.job_id if job else None,
        (job.batch_id if job else None) or (batch.batch_id if batch else None),
        config.secret,
        config.token,
    )
    subject = job.job_id if job else batch.batch_id if batch else "?"
    delivery = Job(
        JOB_TYPE,
        JobParameters.from_dict(attrs.asdict(params), job_type=JOB_TYPE),
        job_id=delivery_id,
        job_name=f"{name} {subject}",
        max_attempts=ATTEMPTS_CEILING,
        priority=10,
        idempotency_key=f"webhook:{config.source}:{key}",
        user_id=job.user_id if job else batch.user_id if batch else None,
        unknown=dict([_ORIGIN]),
    )
    [stored] = store.enqueue([delivery])
    return stored


def _note(store: Store, job_id: str | None, level: str, message: str) -> None:
    if job_id:
        store.append_logs([(job_id, LogEntry(utcnow(), LogLevel.parse(level), message))])


def _remember(cache: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHE:
            cache.popitem(last=False)


def _recall(
    cache: collections.OrderedDict[str, Any], key: str, default: Any = None, *, forget: bool = False
) -> Any:
    with _lock:
        return cache.pop(key, default) if forget else cache.get(key, default)


def _batch_config(store: Store, batch_id: str) -> WebhookConfig | None:
    missing = object()
    cached = _recall(_batch_hooks, batch_id, missing)
    if cached is not missing:
        config: WebhookConfig | None = cached
        return config
    batch = store.get_batch(batch_id)
    config = batch_webhook(batch)[0] if batch is not None else None
    _remember(_batch_hooks, batch_id, config)
    return config


def job_started(job: Job, store: Store) -> None:
    """Remember the store of a delivery about to run, for the notes it writes on its source job
    (in memory, no I/O: the worker calls this on its loop before the attempt starts)."""
    if job.job_type == JOB_TYPE:
        _remember(_stores, job.job_id, store)


def finish_is_quiet(job: Job) -> bool:
    """Whether :func:`job_finished` would do nothing for ``job`` (no delivery job, no batch, no
    webhook of its own configured): a worker may then mark its end announced without it."""
    return job.job_type != JOB_TYPE and not job.batch_id and job_webhooks(job) == (None, None)


def job_finished(job: Job, store: Store) -> None:
    from ..net import display_url  # (httpx) not needed to submit or list jobs

    if job.job_type == JOB_TYPE:
        _delivery_finished(job, store)
        return
    _recall(_last_progress, job.job_id, forget=True)
    event = "completed" if job.status is JobStatus.COMPLETED else "failed"
    own, problem = job_webhooks(job)
    if problem:
        _note(store, job.job_id, "warning", f"webhook not sent: {problem}")
    configs = [c for c in (own,) if c is not None and event in c.events]
    if job.batch_id:
        batch_config = _batch_config(store, job.batch_id)
        if batch_config is not None and event in batch_config.events:
            configs.append(batch_config)
    if not configs:
        return
    batch = store.get_batch(job.batch_id) if job.batch_id else None
    for config in configs:
        delivery = enqueue_delivery(
            store, config, event, job=job, batch=batch, key=f"{job.job_id}:{event}:{_ms(job)}"
        )
        _note(
            store,
            job.job_id,
            "info",
            f"webhook {EVENT_NAMES[event]} queued for "
            f"{display_url(config.url)} (delivery "
            f"{delivery.job_id})",
        )


def job_progress(job: Job, progress: JobProgress, store: Store) -> None:
    if job.job_type == JOB_TYPE:
        return
    config, _problem = job_webhooks(job)
    if config is None or "progress" not in config.events:
        return
    now = time.monotonic()
    with _lock:
        if now - _last_progress.get(job.job_id, -PROGRESS_INTERVAL) < PROGRESS_INTERVAL:
            return
    _remember(_last_progress, job.job_id, now)
    enqueue_delivery(
        store,
        config,
        "progress",
        job=job,
        progress=progress,
        key=f"{job.job_id}:progress:{job.attempts}:{progress.percent}:{progress.step}",
    )


def batch_finished(batch: Batch, store: Store) -> None:
    config, _problem = batch_webhook(batch)
    if config is None or "batch.finished" not in config.events:
        return
    enqueue_delivery(
        store,
        config,
        "batch.finished",
        batch=batch,
        key=f"{batch.batch_id}:batch.finished:{_ms(batch)}",
    )


def _delivery_finished(job: Job, store: Store) -> None:
    """Failures the handler could not log itself (worker lost, timeout, cancelled)."""
    _recall(_stores, job.job_id, forget=True)
    if (
        job.status is JobStatus.FAILED
        and job.error is not None
        and job.error.code not in (DELIVERY_FAILED, InputForbidden.code, "WEBHOOK_SETTINGS_INVALID")
    ):
        source = job.parameters.get("source_job_id")
        _note(
            store,
            source,
            "error",
            f"webhook {job.parameters.get('event')} delivery "
            f"{job.job_id} failed: {job.error.code}: "
            f"{job.error.message}",
        )


# -- sending (the `webhook` job type) -------------------------------------------------------


def _headers(
    p: DeliveryParams, ctx: JobContext, body: bytes, settings: WebhookSettings
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "jobworker-webhooks/1",
        "Jobworker-Event": p.event,
        "Jobworker-Delivery": p.delivery_id,
        "Jobworker-Delivery-Attempt": str(ctx.attempt),
    }
    secret = p.secret or settings.default_secret
    if secret:
        headers[SIGNATURE_HEADER] = signature_header(secret, body)
    if p.token:
        headers["Authorization"] = f"Bearer {p.token}"
        headers["X-Callback-Token"] = p.token
    return headers


async def send(ctx: JobContext) -> dict[str, Any]:
    """Send one delivery attempt (the handler :func:`.job_type.deliver` calls this); raise a
    retryable failure for network errors and 408/429/5xx."""
    import asyncio

    from ..net import NetworkError, async_request, display_url

    p: DeliveryParams = ctx.params
    store = _recall(_stores, ctx.job_id, forget=True)
    settings = WebhookSettings.from_mapping(ctx.settings)
    where = display_url(p.url)
    label = f"webhook {p.event} attempt {ctx.attempt}/{settings.max_attempts} to {where}"

    async def note(level: str, message: str) -> None:
        ctx.log(level, message)
        if store is not None and p.source_job_id:
            try:
                await asyncio.to_thread(
                    _note, store, p.source_job_id, level, f"{message} (delivery {p.delivery_id})"
                )
            except Exception as exc:  # the source job's log is a courtesy
                ctx.log("warning", f"could not log on {p.source_job_id}: {exc}")

    if ctx.job.unknown.get(_ORIGIN[0]) != _ORIGIN[1]:
        raise InputForbidden(
            "webhook deliveries are made by jobworker itself when a job or "
            "batch with a webhook finishes; they cannot be submitted"
        )
    body = json.dumps(p.payload, separators=(",", ":"), ensure_ascii=False).encode()
    if not (p.secret or settings.default_secret):
        ctx.log("warning", "no secret for this webhook and no default_secret: sent unsigned")
    try:
        resp = await async_request(
            "POST",
            p.url,
            allow_private=settings.allow_private,
            timeout=settings.timeout,
            max_body=settings.max_response_bytes,
            headers=_headers(p, ctx, body, settings),
            content=body,
            on_overflow="truncate",
        )
    except InputForbidden as exc:
        await note("error", f"{label}: refused, not retried: {exc.message}")
        raise
    except NetworkError as exc:
        raise await _retry_or_give_up(ctx, settings, note, label, exc.message) from None
    answer = f"HTTP {resp.status_code} in {int(resp.elapsed * 1000)} ms"
    if 200 <= resp.status_code < 300:
        await note("info", f"{label}: delivered ({answer})")
        return {
            "delivery": {
                "delivered": True,
                "event": p.event,
                "url": where,
                "status_code": resp.status_code,
                "attempt": ctx.attempt,
                "elapsed_ms": int(resp.elapsed * 1000),
                "response": resp.content[:500].decode("utf-8", "replace"),
            }
        }
    if resp.status_code in _RETRIED_STATUS or resp.status_code >= 500:
        raise await _retry_or_give_up(ctx, settings, note, label, f"receiver answered {answer}")
    reason = f"receiver answered {answer}" + (
        f" redirecting to {display_url(resp.headers.get('location', ''))}; webhooks do not "
        f"follow redirects"
        if 300 <= resp.status_code < 400
        else ""
    )
    await note("error", f"{label}: failed, not retried: {reason}")
    raise JobFailure(
        f"{where}: {reason}",
        code=DELIVERY_FAILED,
        retryable=False,
        details={"status_code": resp.status_code, "url": where},
    )


async def _retry_or_give_up(
    ctx: JobContext, settings: WebhookSettings, note: Any, label: str, reason: str
) -> JobFailure:
    """The failure to raise for a retryable outcome: retried, or final after max_attempts."""
    if ctx.attempt >= settings.max_attempts:
        await note("error", f"{label}: {reason}; gave up after {ctx.attempt} attempts")
        return JobFailure(
            f"gave up after {ctx.attempt} attempts: {reason}",
            code=DELIVERY_FAILED,
            retryable=False,
            details={"attempts": ctx.attempt},
        )
    await note("warning", f"{label}: {reason}; will retry")
    return JobFailure(reason, code=DELIVERY_FAILED, retryable=True)
