"""worker-plugin-session: the ``session`` job type (and legacy jobs without a ``job_type``).

A conference session (its page, talk video and slides) becomes a Markdown document with front
matter, rendered with worker-plugin-transform's ``Session`` template. The reusable pieces live
in :mod:`worker_plugin_session.api`; this module only holds the hook implementations. It loads
light: worker-plugin-transform's renderer (Jinja2, lxml, PyYAML) is imported by
:mod:`worker_plugin_session.handler` when the first session job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobworker import JobContext, JobHandler, hookimpl

from .params import SessionParams

__all__ = ["SessionParams", "handle_session", "register_job_handlers"]


def handle_session(ctx: JobContext) -> dict[str, Any]:
    """The ``session`` handler (:func:`worker_plugin_session.handler.handle_session`), imported
    on the first call so that loading the plugin imports neither Jinja2, lxml nor PyYAML."""
    from .handler import handle_session as run

    return run(ctx)


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
