"""worker-plugin-video: the ``video`` job type.

The reusable functions live in :mod:`worker_plugin_video.api`; this module only holds the
plugin's hook implementation, found through the ``jobworker`` entry point. It loads light: PyAV
and Pillow are imported by :mod:`worker_plugin_video.handler` when the first video job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobworker import JobContext, JobHandler, hookimpl

from .params import VideoParams

__all__ = ["VideoParams", "handle_video", "register_job_handlers"]


def handle_video(ctx: JobContext) -> dict[str, Any]:
    """The ``video`` handler (:func:`worker_plugin_video.handler.handle_video`), imported on the
    first call so that loading the plugin imports neither PyAV nor Pillow."""
    from .handler import handle_video as run

    return run(ctx)


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    register(
        JobHandler(
            "video",
            handle_video,
            params=VideoParams,
            executor="process",
            concurrency=1,
            timeout=3600,
            max_attempts=2,
            description="video metadata, thumbnails, audio track, transcription and slide OCR",
        )
    )
