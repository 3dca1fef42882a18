"""Webhooks, part of the core: signed, retried, SSRF-safe notifications for jobs and batches.

A webhook is part of a job's (or batch's) stored document (``parameters.webhook``, the legacy
shape), accepted and checked by :meth:`jobworker.Client.submit` and the CLI's ``--webhook``, and
verified by receivers with :func:`jobworker.verify_webhook`. The core's announcement step
(:mod:`jobworker.announce`) calls :mod:`.delivery` for every committed transition, before the
plugins' lifecycle hooks; deliveries are jobs of the core job type ``webhook``. See
docs/webhooks.md.

Modules: :mod:`.config` (the ``webhook`` parameter), :mod:`.payload` (what is sent),
:mod:`.signing` (signatures, :func:`verify_webhook`), :mod:`.delivery` (storing and sending).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .signing import WebhookSignatureError, verify_webhook

__all__ = ["WebhookSignatureError", "verify_webhook"]


def __getattr__(name: str) -> Any:
    """:mod:`.signing`'s names, imported on first use: a ``submit`` checks a webhook's
    configuration (:mod:`.config`) without hmac and hashlib."""
    if name in __all__:
        from . import signing

        return getattr(signing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
