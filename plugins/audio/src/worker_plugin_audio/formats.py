"""The output formats and bitrates of :mod:`worker_plugin_audio.encoding`, without PyAV.

Light on purpose: the ``audio`` job's parameters (:mod:`worker_plugin_audio.params`) are checked
against these when a job is submitted, in processes that never decode audio.
"""

from __future__ import annotations

import re

import attrs
from jobworker import InvalidParameters

__all__ = ["FORMATS", "OutputFormat", "parse_bitrate"]


@attrs.frozen
class OutputFormat:
    container: str
    codec: str
    suffix: str
    lossy: bool


FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "pcm_s16le", ".wav", False),
    "flac": OutputFormat("flac", "flac", ".flac", False),
    "mp3": OutputFormat("mp3", "libmp3lame", ".mp3", True),
    "opus": OutputFormat("ogg", "libopus", ".opus", True),
    "m4a": OutputFormat("ipod", "aac", ".m4a", True),
}


def parse_bitrate(value: str | int | None) -> int | None:
    """``"128k"``, ``"1.5M"``, ``"96000"`` or ``96000`` as bits per second."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        bits = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*(?:bps|b/s)?\s*", str(value))
        if not match:
            raise InvalidParameters(f"bitrate {value!r} is not a number like 128k or 96000")
        factor = {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
        bits = int(float(match.group(1)) * factor)
    if not 8_000 <= bits <= 1_536_000:
        raise InvalidParameters(f"bitrate {bits} is outside 8k..1536k")
    return bits
