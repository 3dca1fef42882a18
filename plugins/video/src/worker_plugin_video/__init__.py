"""worker-plugin-video: the ``video`` job type.

The reusable functions live in :mod:`worker_plugin_video.api`; this module only holds the
plugin's hook implementation, found through the ``jobworker`` entry point.
"""

from __future__ import annotations

from collections.abc import Callable

from jobworker import JobHandler, hookimpl

from .handler import VideoParams, handle_video

__all__ = ["VideoParams", "handle_video", "register_job_handlers"]


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
