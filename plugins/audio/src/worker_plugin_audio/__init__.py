"""worker-plugin-audio: the ``audio`` job type and the ``whisper`` transcription engine.

The reusable functions live in :mod:`worker_plugin_audio.api`; this module only holds the
plugin's hook implementations, found through the ``jobworker`` entry point. It loads light: PyAV
and NumPy are imported by :mod:`worker_plugin_audio.handler` when the first audio job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from jobworker import JobContext, JobHandler, hookimpl

from . import hookspecs
from .params import AudioParams

__all__ = [
    "AudioParams",
    "handle_audio",
    "register_hookspecs",
    "register_job_handlers",
    "register_transcribers",
]


def handle_audio(ctx: JobContext) -> dict[str, Any]:
    """The ``audio`` handler (:func:`worker_plugin_audio.handler.handle_audio`), imported on the
    first call so that loading the plugin imports neither PyAV nor NumPy."""
    from .handler import handle_audio as run

    return run(ctx)


@hookimpl
def register_hookspecs(register: Callable[[ModuleType], None]) -> None:
    """Declare ``register_transcribers`` (:mod:`worker_plugin_audio.hookspecs`)."""
    register(hookspecs)


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    register(
        JobHandler(
            "audio",
            handle_audio,
            params=AudioParams,
            executor="process",
            concurrency=1,
            timeout=3600,
            max_attempts=2,
            description="audio metadata, conversion, loudness, trim, split and transcription",
        )
    )


@hookimpl
def register_transcribers(register: Callable[[str, Any], None]) -> None:
    from . import whisper

    register("whisper", whisper.create)
