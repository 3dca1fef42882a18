"""Reading audio with PyAV: :func:`probe` for metadata, :func:`decode` to a pydub ``AudioSegment``.

PyAV's wheels carry their own FFmpeg libraries, so no ``ffmpeg`` binary is needed. Any container
FFmpeg can read works, including the audio track of a video file. Every way an input can be bad
ends in a typed :class:`jobworker.JobFailure`: a file that is not media, has no audio stream, is
empty or holds no samples is :class:`~jobworker.UnsupportedInput`; audio longer than the given
limit is :class:`~jobworker.InputTooLarge`.
"""

from __future__ import annotations

import os
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs
import av
import av.error
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Stream
from jobworker import InputTooLarge, UnsupportedInput

from .containers import open_input

with warnings.catch_warnings():  # pydub warns about the ffmpeg binary we never use, and audioop
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

__all__ = [
    "AudioInfo",
    "AudioSegment",
    "audio_stream",
    "check_duration",
    "decode",
    "no_samples",
    "open_media",
    "probe",
    "resample",
    "segment_from_array",
    "stream_duration",
]

PathLike = str | os.PathLike[str]


@attrs.frozen
class AudioInfo:
    """What :func:`probe` found: the container and its first audio stream."""

    path: str
    container: str
    duration: float | None
    codec: str
    sample_rate: int
    channels: int
    bit_rate: int | None
    streams: int
    has_video: bool

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def open_media(path: PathLike) -> AbstractContextManager[InputContainer]:
    """Open a media file for reading (single-file containers only, see :mod:`.containers`);
    every refusal becomes :class:`UnsupportedInput`."""
    return open_input(path, "a media file")


def audio_stream(container: InputContainer, path: PathLike) -> AudioStream:
    streams = container.streams.audio
    if not streams:
        raise UnsupportedInput(
            f"{Path(path).name} has no audio stream",
            details={"path": str(path), "reason": "no_audio_stream"},
        )
    return streams[0]


def stream_duration(container: InputContainer, stream: Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe(path: PathLike, *, check: bool = True) -> AudioInfo:
    """Metadata of the first audio stream: duration (seconds), codec, sample rate, channels.

    :param check: also decode until the first audio samples, so a file whose audio cannot be
        decoded or holds no samples is refused here and not later.
    :raises UnsupportedInput: not media, no audio stream, empty, zero-length or undecodable.
    """
    with open_media(path) as container:
        stream = audio_stream(container, path)
        ctx = stream.codec_context
        bit_rate = stream.bit_rate or container.bit_rate or None
        info = AudioInfo(
            path=str(path),
            container=container.format.name,
            duration=stream_duration(container, stream),
            codec=ctx.name,
            sample_rate=int(ctx.sample_rate or stream.rate or 0),
            channels=int(ctx.channels or 0),
            bit_rate=int(bit_rate) if bit_rate else None,
            streams=len(container.streams),
            has_video=bool(container.streams.video),
        )
        if check:
            _first_samples(container, stream, path)
        return info


def _first_samples(container: Any, stream: Any, path: PathLike) -> None:
    """Decode until the first frame with samples; refuse the file if there is none."""
    packets = bad = 0
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        packets += 1
        try:
            if any(frame.samples for frame in packet.decode()):
                return
        except av.error.FFmpegError:
            bad += 1
            if bad >= 50:
                break
    raise no_samples(path, packets, bad)


def no_samples(path: PathLike, packets: int, bad_packets: int) -> UnsupportedInput:
    """The error for a file whose audio stream gave no samples."""
    reason = "corrupt" if bad_packets else "zero_length"
    what = "no decodable audio" if bad_packets else "no audio samples (zero length)"
    return UnsupportedInput(
        f"{Path(path).name} holds {what}",
        details={
            "path": str(path),
            "reason": reason,
            "packets": packets,
            "bad_packets": bad_packets,
        },
    )


def decode(
    path: PathLike,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    max_duration: float | None = None,
) -> AudioSegment:
    """Decode the first audio stream to 16-bit PCM in an ``AudioSegment``.

    :param sample_rate: resample to this rate (default: the stream's rate).
    :param channels: 1 or 2 (default: the stream's, more than two are mixed down to stereo).
    :param max_duration: refuse audio longer than this many seconds, judged by the header and
        again while decoding (a header can lie).
    :raises UnsupportedInput: not media, no audio stream, empty, no decodable samples.
    :raises InputTooLarge: longer than ``max_duration``.
    """
    with open_media(path) as container:
        stream = audio_stream(container, path)
        check_duration(stream_duration(container, stream), max_duration, path)
        stream.codec_context.thread_type = "AUTO"
        src_channels = int(stream.codec_context.channels or 2)
        out_channels = channels or min(src_channels, 2)
        rate = int(sample_rate or stream.codec_context.sample_rate or 44100)
        resampler = av.AudioResampler(format="s16", layout=_layout(out_channels), rate=rate)
        limit = None if max_duration is None else int(max_duration * rate) + rate
        parts: list[np.ndarray] = []
        samples = bad_packets = packets = 0
        for packet in container.demux(stream):
            packets += packet.size > 0  # the last, empty packet flushes the decoder
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
                    samples += out.samples
            if limit is not None and samples > limit:
                check_duration(samples / rate, max_duration, path)
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
            samples += out.samples
    if samples == 0:
        raise no_samples(path, packets, bad_packets)
    pcm = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return segment_from_array(pcm, rate, out_channels)


def segment_from_array(pcm: np.ndarray, sample_rate: int, channels: int) -> AudioSegment:
    """An ``AudioSegment`` from interleaved int16 samples."""
    data = np.ascontiguousarray(pcm, dtype=np.int16).tobytes()
    return AudioSegment(data=data, sample_width=2, frame_rate=sample_rate, channels=channels)


def resample(
    segment: AudioSegment, sample_rate: int | None = None, channels: int | None = None
) -> AudioSegment:
    """The segment at another sample rate and/or channel count (FFmpeg's resampler)."""
    rate = sample_rate or segment.frame_rate
    out_channels = channels or segment.channels
    if rate == segment.frame_rate and out_channels == segment.channels:
        return segment
    if segment.sample_width != 2:
        segment = segment.set_sample_width(2)
    if segment.channels > 2:
        segment = segment.set_channels(2)
    pcm = np.frombuffer(segment.raw_data, dtype=np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=_layout(segment.channels))
    frame.sample_rate = segment.frame_rate
    resampler = av.AudioResampler(format="s16", layout=_layout(out_channels), rate=rate)
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return segment_from_array(
        np.concatenate(parts) if parts else np.zeros(0, np.int16), rate, out_channels
    )


def _layout(channels: int) -> str:
    if channels == 1:
        return "mono"
    if channels == 2:
        return "stereo"
    raise ValueError(f"channels must be 1 or 2, not {channels}")


def check_duration(duration: float | None, limit: float | None, path: PathLike) -> None:
    if limit is not None and duration is not None and duration > limit:
        raise InputTooLarge(
            f"{Path(path).name} lasts {duration:.1f} s, over the limit of {limit:g} s",
            details={"path": str(path), "duration": round(duration, 3), "limit": limit},
        )
