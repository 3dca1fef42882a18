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

from .signing import WebhookSignatureError, verify_webhook

__all__ = ["WebhookSignatureError", "verify_webhook"]
