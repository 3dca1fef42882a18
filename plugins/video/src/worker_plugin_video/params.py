"""The ``video`` job's parameters and the formats it writes, checked when a job is submitted.

Light on purpose (no PyAV, no Pillow): the plugin loads this in every worker and client process;
the handler (:mod:`worker_plugin_video.handler`) is imported when a video job runs.
"""

from __future__ import annotations

from typing import Any

import attrs
from worker_plugin_audio.operations import Operations

__all__ = ["AUDIO_FORMATS", "IMAGE_FORMATS", "OPERATIONS", "VideoParams"]

#: thumbnail format -> file suffix
IMAGE_FORMATS = {"png": ".png", "jpeg": ".jpg"}
#: audio track format -> (container, codec, suffix)
AUDIO_FORMATS = {"wav": ("wav", "pcm_s16le", ".wav"), "opus": ("ogg", "libopus", ".opus")}
OPERATIONS = ("metadata", "thumbnails", "extract_audio", "transcribe", "ocr")
_OPERATIONS = Operations(OPERATIONS)


def _operations(value: Any) -> list[str]:
    """The attrs converter (mypy's attrs plugin reads converters that are named functions)."""
    return _OPERATIONS.parse(value)


def _image_format(value: Any) -> str:
    text = str(value).lower()
    return "jpeg" if text == "jpg" else text


def _non_negative(_inst: Any, _attr: Any, value: list[float]) -> None:
    if any(t < 0 for t in value):
        raise ValueError(f"thumbnail times must be >= 0, got {value!r}")


@attrs.define
class VideoParams:
    """Parameters of a ``video`` job (legacy ``filename`` and ``extra.file_path`` both work)."""

    file_path: str | None = None
    filename: str | None = None
    operations: list[str] = attrs.field(
        factory=lambda: ["metadata", "transcribe"],
        converter=_operations,
        validator=_OPERATIONS.check,
    )
    thumbnail_mode: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.in_(("at", "count", "keyframes"))),
    )
    thumbnail_at: list[float] = attrs.field(factory=list, validator=_non_negative)
    thumbnail_count: int = attrs.field(
        default=5, validator=[attrs.validators.ge(1), attrs.validators.le(1000)]
    )
    thumbnail_format: str = attrs.field(
        default="jpeg",
        converter=_image_format,
        validator=attrs.validators.in_(tuple(IMAGE_FORMATS)),
    )
    thumbnail_width: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional([attrs.validators.ge(16), attrs.validators.le(4096)]),
    )
    audio_format: str = attrs.field(
        default="wav", validator=attrs.validators.in_(tuple(AUDIO_FORMATS))
    )
    engine: str | None = None
    language: str | None = None
    ocr_languages: str = "eng"
