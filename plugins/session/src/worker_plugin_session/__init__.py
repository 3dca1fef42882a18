"""worker-plugin-session: the ``session`` job type (and legacy jobs without a ``job_type``).

A conference session (its page, talk video and slides) becomes a Markdown document with front
matter, rendered with worker-plugin-transform's ``Session`` template. The reusable pieces live
in :mod:`worker_plugin_session.api`; this module only holds the hook implementations.
"""

from __future__ import annotations

from collections.abc import Callable

from jobworker import JobHandler, hookimpl

from .handler import handle_session
from .params import SessionParams

__all__ = ["SessionParams", "handle_session", "register_job_handlers"]


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    register(
        JobHandler(
            "session",
            handle_session,
            params=SessionParams,
            executor="process",
            concurrency=1,
            timeout=4 * 3600,
            max_attempts=2,
            description="conference session (page, talk video, slides) into Markdown",
        )
    )
