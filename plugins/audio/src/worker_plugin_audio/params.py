"""The ``audio`` job's parameters, checked when a job is submitted.

Light on purpose (no PyAV, no NumPy): the plugin loads this in every worker and client process;
the handler (:mod:`worker_plugin_audio.handler`) is imported when an audio job runs.
"""

from __future__ import annotations

from typing import Any

import attrs

from .formats import FORMATS, parse_bitrate
from .operations import Operations

__all__ = ["OPERATIONS", "AudioParams"]

OPERATIONS = ("metadata", "convert", "normalise", "trim", "split", "transcribe")
_OPERATIONS = Operations(OPERATIONS, aliases={"normalize": "normalise"})


def _operations(value: Any) -> list[str]:
    """The attrs converter (mypy's attrs plugin reads converters that are named functions)."""
    return _OPERATIONS.parse(value)


def _check_bitrate(_inst: Any, _attr: Any, value: str | None) -> None:
    parse_bitrate(value)


def _opt(validator: Any) -> Any:
    return attrs.validators.optional(validator)


@attrs.define
class AudioParams:
    """Parameters of an ``audio`` job (legacy ``filename`` and ``extra.file_path`` both work)."""

    file_path: str | None = None
    filename: str | None = None
    operations: list[str] = attrs.field(
        factory=lambda: ["metadata", "transcribe"],
        converter=_operations,
        validator=_OPERATIONS.check,
    )
    format: str = attrs.field(default="mp3", validator=attrs.validators.in_(tuple(FORMATS)))
    bitrate: str | None = attrs.field(default=None, validator=_check_bitrate)
    sample_rate: int | None = attrs.field(
        default=None, validator=_opt([attrs.validators.ge(8000), attrs.validators.le(192000)])
    )
    channels: int | None = attrs.field(default=None, validator=_opt(attrs.validators.in_((1, 2))))
    start: float | None = None
    end: float | None = None
    target_dbfs: float = attrs.field(
        default=-20.0, validator=[attrs.validators.ge(-60.0), attrs.validators.le(0.0)]
    )
    split_mode: str = attrs.field(
        default="fixed", validator=attrs.validators.in_(("fixed", "silence"))
    )
    segment_seconds: float = attrs.field(default=60.0, validator=attrs.validators.gt(0.0))
    min_silence_ms: int = attrs.field(default=500, validator=attrs.validators.ge(10))
    silence_threshold_dbfs: float | None = attrs.field(
        default=None, validator=_opt(attrs.validators.le(0.0))
    )
    keep_silence_ms: int = attrs.field(default=200, validator=attrs.validators.ge(0))
    engine: str | None = None
    language: str | None = None
