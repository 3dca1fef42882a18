"""Video metadata with PyAV (:func:`probe`) and the checks every video operation starts with.

A file is refused with :class:`~jobworker.UnsupportedInput` when FFmpeg cannot read it (not
media, or a corrupt container), when it has no video stream (an audio file, an MP3 whose only
picture is its cover art), when it is a still image, or when no video frame can be decoded.
:func:`check_limits` refuses videos over a configured duration or resolution with
:class:`~jobworker.InputTooLarge`.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs
import av
import av.error
from jobworker import InputTooLarge, UnsupportedInput
from worker_plugin_audio.api import open_input

__all__ = ["StreamInfo", "VideoInfo", "check_limits", "open_video", "probe", "video_stream"]

PathLike = str | os.PathLike[str]

_STILL_FORMATS = {"image2", "gif", "webp_pipe"}


@attrs.frozen
class StreamInfo:
    index: int
    type: str
    codec: str | None
    duration: float | None
    language: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


@attrs.frozen
class VideoInfo:
    """What :func:`probe` found; ``width``/``height``/``fps``/``video_codec`` are the first video
    stream's, ``audio_codec`` the first audio stream's (``None`` without audio)."""

    path: str
    container: str
    duration: float | None
    width: int
    height: int
    fps: float | None
    video_codec: str
    audio_codec: str | None
    has_audio: bool
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=True, value_serializer=_plain)


def _plain(_inst: Any, _field: Any, value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def open_video(path: PathLike) -> AbstractContextManager[Any]:
    """Open a media file (single-file containers only: the audio plugin's
    :func:`~worker_plugin_audio.api.open_input` rule); every refusal is :class:`UnsupportedInput`.
    """
    return open_input(path, "a video")


def _is_cover_art(stream: Any) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def video_stream(container: Any, path: PathLike) -> Any:
    """The first real video stream (not cover art, not a still image)."""
    name = Path(path).name
    streams = [s for s in container.streams.video if not _is_cover_art(s)]
    if not streams:
        raise UnsupportedInput(
            f"{name} has no video stream", details={"path": str(path), "reason": "no_video_stream"}
        )
    stream = streams[0]
    fmt = container.format.name
    if fmt in _STILL_FORMATS or fmt.endswith("_pipe"):
        raise UnsupportedInput(
            f"{name} is a still image ({fmt}), not a video",
            details={"path": str(path), "reason": "still_image"},
        )
    return stream


def _seconds(stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _stream_info(stream: Any) -> StreamInfo:
    ctx = stream.codec_context
    common = {
        "index": stream.index,
        "type": stream.type,
        "codec": ctx.name if ctx else None,
        "duration": _seconds(stream),
        "language": stream.language,
    }
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        return StreamInfo(
            **common,
            width=ctx.width,
            height=ctx.height,
            fps=round(float(rate), 3) if rate else None,
        )
    if stream.type == "audio":
        return StreamInfo(**common, sample_rate=ctx.sample_rate, channels=ctx.channels)
    return StreamInfo(**common)


def probe(path: PathLike, *, check: bool = True) -> VideoInfo:
    """Container, duration (seconds), resolution, frame rate, codecs and every stream.

    :param check: also decode the first video frame, so a file whose video cannot be decoded
        is refused here.
    :raises UnsupportedInput: unreadable or corrupt, no video stream, still image.
    """
    with open_video(path) as container:
        stream = video_stream(container, path)
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _seconds(stream)
        if duration is None and container.duration is not None:
            duration = container.duration / av.time_base
        first = _stream_info(stream)
        info = VideoInfo(
            path=str(path),
            container=container.format.name,
            duration=round(duration, 3) if duration is not None else None,
            width=int(first.width or 0),
            height=int(first.height or 0),
            fps=first.fps,
            video_codec=str(first.codec),
            audio_codec=audio.codec_context.name if audio is not None else None,
            has_audio=audio is not None,
            bit_rate=int(container.bit_rate) if container.bit_rate else None,
            streams=tuple(_stream_info(s) for s in container.streams),
        )
        if check:
            _first_frame(container, stream, path)
        return info


def _first_frame(container: Any, stream: Any, path: PathLike) -> None:
    bad = packets = 0
    for packet in container.demux(stream):
        packets += packet.size > 0
        try:
            if packet.decode():
                return
        except av.error.FFmpegError:
            bad += 1
            if bad >= 50:
                break
    raise UnsupportedInput(
        f"{Path(path).name}: no video frame could be decoded (corrupt or empty video)",
        details={
            "path": str(path),
            "reason": "corrupt" if bad else "zero_length",
            "packets": packets,
            "bad_packets": bad,
        },
    )


def check_limits(
    info: VideoInfo, *, max_duration: float | None = None, max_pixels: int | None = None
) -> None:
    """Refuse a video longer than ``max_duration`` seconds or larger than ``max_pixels``.

    :raises InputTooLarge: with the measured value and the limit in ``details``.
    """
    name = Path(info.path).name
    if max_duration is not None and info.duration is not None and info.duration > max_duration:
        raise InputTooLarge(
            f"{name} lasts {info.duration:.1f} s, over the limit of {max_duration:g} s",
            details={"duration": info.duration, "limit": max_duration},
        )
    pixels = info.width * info.height
    if max_pixels is not None and pixels > max_pixels:
        raise InputTooLarge(
            f"{name} is {info.width}x{info.height} ({pixels} pixels per frame), "
            f"over the limit of {max_pixels}",
            details={"width": info.width, "height": info.height, "limit": max_pixels},
        )
