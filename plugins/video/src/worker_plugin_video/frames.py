"""Frames as images: at given times, evenly spaced, or every keyframe (PyAV + Pillow)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import av
import av.error
from jobworker import InvalidParameters
from PIL import Image

from .params import IMAGE_FORMATS
from .probing import PathLike, open_video, probe, video_stream

__all__ = [
    "IMAGE_FORMATS",
    "Thumbnail",
    "even_times",
    "iter_frames_at",
    "iter_keyframes",
    "save_thumbnails",
    "thumbnails",
]

_SEEK_AHEAD = 2.0  # decode forward instead of seeking when the next time is this close


@attrs.frozen
class Thumbnail:
    """One frame: the time asked for, the frame's own time (seconds) and its image."""

    requested: float | None
    time: float
    image: Image.Image
    keyframe: bool


def even_times(duration: float, count: int) -> list[float]:
    """``count`` times spread evenly over ``duration``: the middles of equal slices."""
    if count < 1:
        raise InvalidParameters(f"thumbnail count must be at least 1, not {count}")
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def _image(frame: av.VideoFrame, width: int | None) -> Image.Image:
    if width and frame.width and width != frame.width:
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        frame = frame.reformat(width=width, height=height, format="rgb24")
    return Image.fromarray(frame.to_ndarray(format="rgb24"))


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames, skipping packets the decoder refuses (damaged data)."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.FFmpegError:
            continue


def iter_frames_at(
    path: PathLike, times: Iterable[float], *, width: int | None = None
) -> Iterator[Thumbnail]:
    """The frame shown at each time (seconds from the start), in ascending time order.

    A time past the end gives the last frame. Seeks to the keyframe before each time and
    decodes forward; close times share one decoding pass.
    """
    wanted = sorted({max(0.0, float(t)) for t in times})
    with open_video(path) as container:
        stream = video_stream(container, path)
        stream.codec_context.thread_type = "AUTO"
        base = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        rate = stream.average_rate or stream.guessed_rate
        half = 0.5 / float(rate) if rate else 0.02
        frames: Iterator[Any] | None = None
        last: Any = None
        for t in wanted:
            target = base + t
            if (
                frames is None
                or last is None
                or target < last.time
                or target - last.time > _SEEK_AHEAD
            ):
                container.seek(
                    int(target / stream.time_base), stream=stream, backward=True, any_frame=False
                )
                frames, last = _frames(container, stream), None
            chosen = None
            for frame in frames:
                if frame.time is None:
                    continue
                if frame.time + half >= target:
                    chosen = frame
                    break
                last = frame
            chosen = chosen if chosen is not None else last
            if chosen is None:
                continue
            last = chosen
            yield Thumbnail(
                t, round(chosen.time - base, 3), _image(chosen, width), bool(chosen.key_frame)
            )


def iter_keyframes(
    path: PathLike, *, width: int | None = None, limit: int | None = None
) -> Iterator[Thumbnail]:
    """Every keyframe (the decoder skips all other frames), at most ``limit``."""
    with open_video(path) as container:
        stream = video_stream(container, path)
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONKEY"
        base = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        for count, frame in enumerate(_frames(container, stream)):
            if limit is not None and count >= limit:
                return
            time = (frame.time or 0.0) - base
            yield Thumbnail(None, round(time, 3), _image(frame, width), True)


def thumbnails(
    path: PathLike,
    *,
    at: Sequence[float] | None = None,
    count: int | None = None,
    keyframes: bool = False,
    width: int | None = None,
    limit: int | None = 100,
) -> list[Thumbnail]:
    """Frames by one of three rules: ``at`` given times, ``count`` evenly spaced, ``keyframes``.

    :raises InvalidParameters: none or more than one rule, or more than ``limit`` frames asked.
    """
    rules = sum([at is not None, count is not None, keyframes])
    if rules != 1:
        raise InvalidParameters("give exactly one of at=[...], count=N or keyframes=True")
    if at is not None or count is not None:
        times = (
            list(at) if at is not None else even_times(probe(path).duration or 0.0, int(count or 0))
        )
        if limit is not None and len(times) > limit:
            raise InvalidParameters(f"{len(times)} thumbnails asked, the limit is {limit}")
        return list(iter_frames_at(path, times, width=width))
    return list(iter_keyframes(path, width=width, limit=limit))


def save_thumbnails(
    thumbs: Iterable[Thumbnail], directory: Path, fmt: str = "jpeg", stem: str = "thumb"
) -> list[dict[str, Any]]:
    """Write each thumbnail as ``<stem>-<nnnn>.<png|jpg>``; returns path, time, size per file."""
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in IMAGE_FORMATS:
        raise InvalidParameters(f"thumbnail format must be png or jpeg, not {fmt!r}")
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for i, thumb in enumerate(thumbs, 1):
        target = directory / f"{stem}-{i:04d}{IMAGE_FORMATS[fmt]}"
        options = {"quality": 85} if fmt == "jpeg" else {"compress_level": 3}
        thumb.image.save(target, format=fmt.upper(), **options)
        out.append(
            {
                "path": str(target),
                "time": thumb.time,
                "requested": thumb.requested,
                "width": thumb.image.width,
                "height": thumb.image.height,
                "keyframe": thumb.keyframe,
            }
        )
    return out
