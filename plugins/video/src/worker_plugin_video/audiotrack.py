"""The audio track of a video as WAV (PCM 16-bit) or Opus, streamed through PyAV.

The track is decoded and re-encoded packet by packet, so a long recording never sits in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import av.error
from jobworker import InputTooLarge, InvalidParameters, UnsupportedInput
from worker_plugin_audio.api import add_audio_stream

from .params import AUDIO_FORMATS
from .probing import PathLike, open_video

__all__ = ["AUDIO_FORMATS", "extract_audio"]


def _rate(codec: str, wanted: int) -> int:
    rates = av.Codec(codec, "w").audio_rates
    if not rates or wanted in rates:
        return wanted
    higher = [r for r in rates if r >= wanted]
    return min(higher) if higher else max(rates)


def extract_audio(
    path: PathLike,
    dest: PathLike,
    fmt: str = "wav",
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    bitrate: int = 64_000,
    max_duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Write the first audio stream of ``path`` to ``dest`` as ``wav`` or ``opus``.

    :param on_progress: called with the seconds written so far, now and then (it may raise to
        stop).
    :returns: ``{"path", "format", "duration", "sample_rate", "channels"}``.
    :raises UnsupportedInput: unreadable input or no audio track.
    :raises InputTooLarge: the track runs past ``max_duration`` seconds.
    """
    if fmt not in AUDIO_FORMATS:
        raise InvalidParameters(f"audio format must be wav or opus, not {fmt!r}")
    codec = AUDIO_FORMATS[fmt][1]
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".part")
    with open_video(path) as src:
        if not src.streams.audio:
            raise UnsupportedInput(
                f"{Path(path).name} has no audio track",
                details={"path": str(path), "reason": "no_audio_stream"},
            )
        stream = src.streams.audio[0]
        stream.codec_context.thread_type = "AUTO"
        ctx = stream.codec_context
        out_channels = channels or min(int(ctx.channels or 2), 2)
        # Opus decoders always play at 48 kHz, so that is its natural rate
        natural = 48000 if fmt == "opus" else int(ctx.sample_rate or 48000)
        rate = _rate(codec, int(sample_rate or natural))
        try:
            samples = _transcode(
                src, stream, tmp, fmt, rate, out_channels, bitrate, max_duration, on_progress
            )
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if samples == 0:
        tmp.unlink(missing_ok=True)
        raise UnsupportedInput(
            f"{Path(path).name}: its audio track holds no decodable audio",
            details={"path": str(path), "reason": "zero_length"},
        )
    os.replace(tmp, dest)
    return {
        "path": str(dest),
        "format": fmt,
        "duration": round(samples / rate, 3),
        "sample_rate": rate,
        "channels": out_channels,
    }


def _transcode(
    src: Any,
    stream: Any,
    tmp: Path,
    fmt: str,
    rate: int,
    out_channels: int,
    bitrate: int,
    max_duration: float | None,
    on_progress: Callable[[float], None] | None,
) -> int:
    """Decode ``stream`` and encode it into ``tmp``; returns the samples written (output rate)."""
    container_fmt, codec, _suffix = AUDIO_FORMATS[fmt]
    in_rate = float(stream.codec_context.sample_rate or rate)
    samples = 0
    next_report = 10.0
    with av.open(str(tmp), "w", format=container_fmt) as out:
        ostream = add_audio_stream(out, codec, rate, "mono" if out_channels == 1 else "stereo")
        if fmt == "opus":
            ostream.bit_rate = bitrate
        for packet in src.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                frame.pts = None
                samples += frame.samples
                out.mux(ostream.encode(frame))
            seconds = samples / in_rate
            if max_duration is not None and seconds > max_duration + 1:
                raise InputTooLarge(
                    f"the audio track runs past the limit of {max_duration:g} s",
                    details={"limit": max_duration},
                )
            if on_progress is not None and seconds >= next_report:
                on_progress(seconds)
                next_report = seconds + 10.0
        out.mux(ostream.encode(None))
    return round(samples * rate / in_rate)
