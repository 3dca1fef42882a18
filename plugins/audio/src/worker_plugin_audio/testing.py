"""Fixture makers for tests and benchmarks of audio (and of plugins reusing it).

They generate everything on the spot: speech with Debian's ``espeak-ng`` (``apt install
espeak-ng``), tones and silences with numpy, written with PyAV. :func:`word_error_rate` scores a
transcript against the text that was spoken. :func:`container_sample` writes a short file in
each of :data:`~worker_plugin_audio.containers.SINGLE_FILE_FORMATS`; :func:`hls_playlist` and
:func:`concat_list` write the multi-file inputs that must be refused.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av
import numpy as np

from .decoding import AudioSegment, segment_from_array

__all__ = [
    "SAMPLE_SPECS",
    "SENTENCES",
    "SPEECH_TEXT",
    "concat_list",
    "container_sample",
    "espeak_available",
    "hls_playlist",
    "silence",
    "speech_wav",
    "tone",
    "tone_sequence",
    "word_error_rate",
]

SPEECH_TEXT = "Please open the door and close the window. The children are playing in the garden."

# Varied sentences for longer recordings: Whisper re-decodes repetitive text (its compression
# ratio check), so repeating one sentence would measure that fallback, not normal speech.
SENTENCES = (
    "Please open the door and close the window.",
    "The children are playing in the garden.",
    "We will meet in the morning to talk about the new project.",
    "The train leaves the station at nine o'clock.",
    "My sister bought a red car last summer.",
    "It is raining and the streets are wet.",
    "The library is closed on Sunday afternoons.",
    "He drinks a cup of coffee every day.",
    "Our team finished the work before lunch.",
    "The old bridge crosses a wide river.",
)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speech_wav(
    path: Path,
    text: str = SPEECH_TEXT,
    *,
    voice: str | None = None,
    speed: int = 160,
    engine: str = "espeak-ng",
) -> Path:
    """Speak ``text`` into a WAV file (mono) with a Debian synthesizer.

    ``engine="espeak-ng"`` (22.05 kHz; ``voice`` default ``en``, ``speed`` in words per minute)
    is robotic: the small Whisper model mishears some of it. ``engine="flite"`` (16 kHz;
    ``voice`` default ``slt``, a recorded US English voice; ``speed`` ignored) sounds clearer
    and is what the demo speaks with (Debian package ``flite``).
    """
    if engine == "flite":
        command = ["flite", "-voice", voice or "slt", "-t", text, "-o", str(path)]
    elif engine == "espeak-ng":
        command = ["espeak-ng", "-v", voice or "en", "-s", str(speed), "-w", str(path), text]
    else:
        raise ValueError(f"unknown speech engine {engine!r}: espeak-ng or flite")
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


def tone(
    seconds: float,
    freq: float = 440.0,
    *,
    rate: int = 44100,
    channels: int = 1,
    dbfs: float = -12.0,
) -> AudioSegment:
    """A sine tone at ``dbfs`` peak level."""
    t = np.arange(int(seconds * rate)) / rate
    amp = 32767 * 10 ** (dbfs / 20)
    mono = (np.sin(2 * np.pi * freq * t) * amp).astype(np.int16)
    return segment_from_array(np.repeat(mono, channels), rate, channels)


def silence(seconds: float, *, rate: int = 44100, channels: int = 1) -> AudioSegment:
    return segment_from_array(np.zeros(int(seconds * rate) * channels, np.int16), rate, channels)


def tone_sequence(
    pattern: Iterable[tuple[str, float]], *, rate: int = 44100, channels: int = 1
) -> AudioSegment:
    """Concatenate ``("tone", seconds)`` / ``("silence", seconds)`` steps."""
    out = silence(0, rate=rate, channels=channels)
    for kind, seconds in pattern:
        out += (
            tone(seconds, rate=rate, channels=channels)
            if kind == "tone"
            else silence(seconds, rate=rate, channels=channels)
        )
    return out


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, case and punctuation ignored."""
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[:], i
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1] / len(ref)


# -- one sample per allowed container, and the multi-file inputs that are refused -------------

#: allowed demuxer -> (file suffix, muxer, codec); codec ``"image"`` is a Pillow picture
#: (the suffix names Pillow's format), ``"vp8"`` a short video without audio.
SAMPLE_SPECS: dict[str, tuple[str, str, str]] = {
    "wav": (".wav", "wav", "pcm_s16le"),
    "w64": (".w64", "w64", "pcm_s16le"),
    "mp3": (".mp3", "mp3", "libmp3lame"),
    "flac": (".flac", "flac", "flac"),
    "ogg": (".opus", "ogg", "libopus"),
    "aac": (".aac", "adts", "aac"),
    "aiff": (".aiff", "aiff", "pcm_s16be"),
    "caf": (".caf", "caf", "pcm_s16le"),
    "wv": (".wv", "wv", "wavpack"),
    "tta": (".tta", "tta", "tta"),
    "ac3": (".ac3", "ac3", "ac3"),
    "eac3": (".eac3", "eac3", "eac3"),
    "au": (".au", "au", "pcm_s16be"),
    "mov": (".m4a", "ipod", "aac"),
    "matroska": (".mka", "matroska", "libopus"),
    "webm": (".webm", "webm", "libopus"),
    "asf": (".wma", "asf", "wmav2"),
    "avi": (".avi", "avi", "pcm_s16le"),
    "mpegts": (".ts", "mpegts", "aac"),
    "mpeg": (".mpg", "mpeg", "mp2"),
    "flv": (".flv", "flv", "aac"),
    "nut": (".nut", "nut", "pcm_s16le"),
    "ivf": (".ivf", "ivf", "vp8"),
    "png_pipe": (".png", "PNG", "image"),
    "jpeg_pipe": (".jpg", "JPEG", "image"),
    "webp_pipe": (".webp", "WEBP", "image"),
    "bmp_pipe": (".bmp", "BMP", "image"),
    "tiff_pipe": (".tif", "TIFF", "image"),
    "gif": (".gif", "GIF", "image"),
}


def container_sample(directory: Path, fmt: str, seconds: float = 1.0) -> Path:
    """A short file that FFmpeg reads with the demuxer ``fmt`` (a key of :data:`SAMPLE_SPECS`):
    a 440 Hz tone, a grey video (``ivf``) or a picture (needs Pillow)."""
    suffix, muxer, codec = SAMPLE_SPECS[fmt]
    path = Path(directory) / f"sample-{fmt}{suffix}"
    if codec == "image":
        from PIL import Image

        Image.new("RGB", (32, 24), "red").save(path, format=muxer)
        return path
    with av.open(str(path), "w", format=muxer) as out:
        if codec == "vp8":
            _video(out, "libvpx", seconds)
        else:
            _tone(out, codec, seconds)
    return path


def _tone(out: Any, codec: str, seconds: float) -> None:
    rate = 48_000 if codec in ("libopus", "ac3", "eac3") else 44_100
    stream = out.add_stream(codec, rate=rate, layout="mono")
    stream.bit_rate = 64_000
    fmt = stream.codec_context.codec.audio_formats[0].name
    pcm = tone(seconds, rate=rate)
    samples = np.frombuffer(pcm.raw_data, np.int16)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
    size = stream.codec_context.frame_size or 1024
    fifo = av.AudioFifo()
    for converted in resampler.resample(frame):
        fifo.write(converted)
    while fifo.samples:
        for packet in stream.encode(fifo.read(min(size, fifo.samples), partial=True)):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def _video(out: Any, codec: str, seconds: float) -> None:
    stream = out.add_stream(codec, rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(max(1, int(seconds * 10))):
        image = np.full((48, 64, 3), i * 20 % 256, np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def hls_playlist(path: Path, segments: Iterable[str], seconds: float = 1.0) -> Path:
    """An HLS media playlist (``.m3u8``) naming ``segments`` (paths or URLs) as given."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(seconds) + 1}"]
    for segment in segments:
        lines += [f"#EXTINF:{seconds:.1f},", segment]
    path.write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]), encoding="utf-8")
    return path


def concat_list(path: Path, files: Iterable[str]) -> Path:
    """An FFmpeg concat list (``ffconcat``) naming ``files`` as given."""
    body = "".join(f"file '{name}'\n" for name in files)
    path.write_text(f"ffconcat version 1.0\n{body}", encoding="utf-8")
    return path
