"""The public API of worker-plugin-video, for its handler and for other plugins (session).

Everything reads and writes with PyAV (FFmpeg libraries inside the wheel, no ``ffmpeg``
binary). Bad input raises typed :class:`jobworker.JobFailure` subclasses.

>>> from worker_plugin_video.api import probe, thumbnails, extract_audio
>>> info = probe("talk.mp4")                                           # doctest: +SKIP
>>> frames = thumbnails("talk.mp4", count=5, width=320)                # doctest: +SKIP
>>> extract_audio("talk.mp4", "talk.opus", "opus")                     # doctest: +SKIP

Transcription and slide OCR reuse the partner plugins' APIs when they are installed:
``worker_plugin_audio.api.transcribe(video_path, ...)`` reads a video's audio track directly,
and :func:`slide_texts` runs ``worker_plugin_ocr.api.ocr_image`` on keyframes.
"""

from __future__ import annotations

from .audiotrack import AUDIO_FORMATS, extract_audio
from .extras import AUDIO_INSTALL, OCR_INSTALL, audio_api, ocr_api, slide_texts
from .frames import (
    IMAGE_FORMATS,
    Thumbnail,
    even_times,
    iter_frames_at,
    iter_keyframes,
    save_thumbnails,
    thumbnails,
)
from .probing import StreamInfo, VideoInfo, check_limits, probe

__all__ = [
    "AUDIO_FORMATS",
    "AUDIO_INSTALL",
    "IMAGE_FORMATS",
    "OCR_INSTALL",
    "StreamInfo",
    "Thumbnail",
    "VideoInfo",
    "audio_api",
    "check_limits",
    "even_times",
    "extract_audio",
    "iter_frames_at",
    "iter_keyframes",
    "ocr_api",
    "probe",
    "save_thumbnails",
    "slide_texts",
    "thumbnails",
]
