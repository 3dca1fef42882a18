"""Writing audio with PyAV: :func:`export` an ``AudioSegment``, :func:`convert` a file.

Formats (``FORMATS``): ``wav`` (PCM 16-bit), ``flac``, ``mp3`` (LAME), ``opus`` (Opus in Ogg) and
``m4a`` (AAC in MP4). Sample rate and channel count are converted by FFmpeg's resampler inside
the encoder; a rate the codec cannot take (Opus: 8/12/16/24/48 kHz) is raised to the nearest one
it can.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from jobworker import InvalidParameters

from .decoding import (
    AudioSegment,
    PathLike,
    audio_stream,
    check_duration,
    no_samples,
    open_media,
    stream_duration,
)
from .formats import FORMATS, OutputFormat, parse_bitrate

__all__ = ["FORMATS", "OutputFormat", "add_audio_stream", "convert", "export", "parse_bitrate"]


_FRAME_SAMPLES = 8192


def _codec_rate(codec: av.Codec, wanted: int) -> int:
    rates = codec.audio_rates
    if not rates or wanted in rates:
        return wanted
    higher = [r for r in rates if r >= wanted]
    return min(higher) if higher else max(rates)


def add_audio_stream(out: OutputContainer, codec: str, rate: int, layout: str) -> AudioStream:
    """``out.add_stream(codec, rate=rate, layout=layout)``, checked to be an audio stream.

    :raises ValueError: ``codec`` names a video or subtitle encoder.
    """
    stream = out.add_stream(codec, rate=rate, layout=layout)
    if not isinstance(stream, AudioStream):
        raise ValueError(f"{codec!r} is not an audio encoder")
    return stream


def export(
    segment: AudioSegment,
    path: PathLike,
    fmt: str | None = None,
    *,
    bitrate: str | int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
) -> Path:
    """Encode ``segment`` to ``path`` in ``fmt`` (default: from the file suffix).

    :returns: the path written.
    :raises InvalidParameters: unknown format, bad bitrate or channel count.
    """
    path = Path(path)
    spec = _spec(fmt or path.suffix.lstrip("."), channels)
    if segment.sample_width != 2:
        segment = segment.set_sample_width(2)
    codec = av.Codec(spec.codec, "w")
    in_layout = "mono" if segment.channels == 1 else "stereo"
    if segment.channels > 2:
        segment = segment.set_channels(2)
    out_layout = {1: "mono", 2: "stereo"}.get(channels or segment.channels, "stereo")
    rate = _codec_rate(codec, sample_rate or segment.frame_rate)
    pcm = np.frombuffer(segment.raw_data, dtype=np.int16).reshape(1, -1)
    step = _FRAME_SAMPLES * segment.channels
    tmp = path.with_name(path.name + ".part")
    with av.open(str(tmp), "w", format=spec.container) as out:
        stream = add_audio_stream(out, spec.codec, rate, out_layout)
        bits = parse_bitrate(bitrate)
        if bits and spec.lossy:
            stream.bit_rate = bits
        pts = 0
        for start in range(0, pcm.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + step]), format="s16", layout=in_layout
            )
            frame.sample_rate = segment.frame_rate
            frame.pts = pts
            pts += frame.samples
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    os.replace(tmp, path)
    return path


def convert(
    source: PathLike | AudioSegment,
    dest: PathLike,
    fmt: str | None = None,
    *,
    bitrate: str | int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
    max_duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Convert an audio file (or a decoded segment) to ``dest`` in ``fmt``.

    A file is streamed frame by frame (memory stays flat however long it is); a segment is
    encoded with :func:`export`.

    :param on_progress: for files, called with the seconds converted so far about every 30 s
        of audio; it may raise to stop.
    :raises UnsupportedInput: the source is not readable audio (see :func:`decode`).
    :raises InputTooLarge: the source is longer than ``max_duration`` seconds.
    """
    if isinstance(source, AudioSegment):
        return export(
            source, dest, fmt, bitrate=bitrate, sample_rate=sample_rate, channels=channels
        )
    dest = Path(dest)
    spec = _spec(fmt or dest.suffix.lstrip("."), channels)
    tmp = dest.with_name(dest.name + ".part")
    with open_media(source) as container:
        stream = audio_stream(container, source)
        check_duration(stream_duration(container, stream), max_duration, source)
        stream.codec_context.thread_type = "AUTO"
        ctx = stream.codec_context
        in_rate = int(ctx.sample_rate or 44100)
        layout = "mono" if (channels or min(int(ctx.channels or 2), 2)) == 1 else "stereo"
        rate = _codec_rate(av.Codec(spec.codec, "w"), sample_rate or in_rate)
        samples = bad = 0
        next_report = 30.0
        try:
            with av.open(str(tmp), "w", format=spec.container) as out:
                ostream = add_audio_stream(out, spec.codec, rate, layout)
                bits = parse_bitrate(bitrate)
                if bits and spec.lossy:
                    ostream.bit_rate = bits
                for packet in container.demux(stream):
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:
                        bad += 1
                        continue
                    for frame in frames:
                        frame.pts = None
                        samples += frame.samples
                        out.mux(ostream.encode(frame))
                    seconds = samples / in_rate
                    if max_duration is not None and seconds > max_duration + 1:
                        check_duration(seconds, max_duration, source)
                    if on_progress is not None and seconds >= next_report:
                        on_progress(seconds)
                        next_report = seconds + 30.0
                out.mux(ostream.encode(None))
            if samples == 0:
                raise no_samples(source, 0, bad)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, dest)
    return dest


def _spec(fmt: str, channels: int | None) -> OutputFormat:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidParameters(f"unknown audio format {fmt!r}; use one of {', '.join(FORMATS)}")
    if channels not in (None, 1, 2):
        raise InvalidParameters(f"channels must be 1 or 2, not {channels}")
    return FORMATS[fmt]
