"""The core job type ``webhook`` as a plugin registers it: its name, parameters and handler.

Light on purpose: every process that loads plugins registers this type (a ``jobworker submit``
too), while sending a delivery needs :mod:`.delivery` (payloads, signing, HTTP), which
:func:`deliver` imports on its first call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ..handler import JobHandler

if TYPE_CHECKING:
    from ..handler import JobContext

__all__ = ["ATTEMPTS_CEILING", "JOB_TYPE", "DeliveryParams", "deliver", "delivery_handler"]

JOB_TYPE = "webhook"
ATTEMPTS_CEILING = 12  # the delivery job's max_attempts; settings may only lower it


@attrs.define
class DeliveryParams:
    """The parameters of one delivery (made by the hooks, not submitted by users)."""

    url: str
    event: str
    payload: dict[str, Any]
    delivery_id: str
    source_job_id: str | None = None
    batch_id: str | None = None
    secret: str | None = None  # redacted by every view (key name "secret")
    token: str | None = None


async def deliver(ctx: JobContext) -> dict[str, Any]:
    """Send one delivery attempt (:func:`.delivery.send`)."""
    from .delivery import send

    return await send(ctx)


def delivery_handler() -> JobHandler:
    """The core job type ``webhook``: sends one stored delivery."""
    return JobHandler(
        JOB_TYPE,
        deliver,
        params=DeliveryParams,
        executor="async",
        max_attempts=ATTEMPTS_CEILING,
        backoff=5.0,
        timeout=600,
        description="Sends a webhook delivery (made by jobworker itself).",
    )
