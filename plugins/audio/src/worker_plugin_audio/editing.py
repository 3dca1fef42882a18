"""Editing decoded audio: loudness, trimming and splitting (pydub for the PCM, numpy for analysis).

Times are in seconds. Silence detection works on 10 ms frames with numpy, so it stays fast on
hours of audio (pydub's own detector steps through every millisecond in Python).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from jobworker import InvalidParameters

from .decoding import AudioSegment

__all__ = [
    "Piece",
    "frame_levels",
    "normalise",
    "quiet_cut_points",
    "silent_ranges",
    "split_fixed",
    "split_on_silence",
    "trim",
]

FRAME_MS = 10


@attrs.frozen
class Piece:
    """A part of a longer recording: its audio and where it lay (seconds)."""

    start: float
    end: float
    audio: AudioSegment


def normalise(
    segment: AudioSegment, target_dbfs: float = -20.0, peak_limit_dbfs: float = -1.0
) -> AudioSegment:
    """Change the gain so the average loudness (RMS) is ``target_dbfs``.

    The gain is lowered where it would push the peak above ``peak_limit_dbfs`` (no clipping).
    Silence is returned unchanged.
    """
    if segment.rms == 0 or math.isinf(segment.dBFS):
        return segment
    gain = target_dbfs - segment.dBFS
    gain = min(gain, peak_limit_dbfs - segment.max_dBFS)
    return segment.apply_gain(gain)


def trim(
    segment: AudioSegment, start: float | None = None, end: float | None = None
) -> AudioSegment:
    """The part between ``start`` and ``end`` seconds; a negative value counts from the end.

    :raises InvalidParameters: the range is empty or starts after the audio ends.
    """
    length = len(segment) / 1000
    s = 0.0 if start is None else (length + start if start < 0 else start)
    e = length if end is None else (length + end if end < 0 else min(end, length))
    if s < 0 or s >= length or e <= s:
        raise InvalidParameters(
            f"trim range {start}..{end} s is empty for audio of {length:.2f} s",
            details={"start": start, "end": end, "duration": round(length, 3)},
        )
    return segment[round(s * 1000) : round(e * 1000)]


def split_fixed(segment: AudioSegment, seconds: float) -> list[Piece]:
    """Consecutive pieces of ``seconds`` each (the last may be shorter)."""
    if seconds <= 0:
        raise InvalidParameters(f"segment length must be positive, not {seconds}")
    step = round(seconds * 1000)
    return [
        Piece(i / 1000, min(i + step, len(segment)) / 1000, segment[i : i + step])
        for i in range(0, len(segment), step)
    ]


def frame_levels(segment: AudioSegment, frame_ms: int = FRAME_MS) -> npt.NDArray[np.float64]:
    """Loudness of each ``frame_ms`` frame in dBFS (``-inf`` for digital silence)."""
    raw: npt.NDArray[np.signedinteger] = np.frombuffer(
        segment.get_array_of_samples(), dtype=_dtype(segment)
    )
    samples: npt.NDArray[np.float64] = (
        raw.reshape(-1, segment.channels).astype(np.float64).mean(axis=1)
    )
    per = max(1, segment.frame_rate * frame_ms // 1000)
    count = len(samples) // per
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * per].reshape(count, per)
    rms: npt.NDArray[np.float64] = np.sqrt(np.mean(frames * frames, axis=1))
    full_scale = float(1 << (8 * segment.sample_width - 1))
    with np.errstate(divide="ignore"):
        return 20 * np.log10(rms / full_scale)


def _dtype(segment: AudioSegment) -> type:
    return {1: np.int8, 2: np.int16, 4: np.int32}[segment.sample_width]


def silent_ranges(
    segment: AudioSegment, min_silence_ms: int = 500, threshold_dbfs: float | None = None
) -> list[tuple[int, int]]:
    """``(start_ms, end_ms)`` of every stretch quieter than the threshold for ``min_silence_ms``.

    :param threshold_dbfs: default 16 dB below the segment's average loudness.
    """
    if threshold_dbfs is None:
        threshold_dbfs = (segment.dBFS - 16) if segment.rms else -60.0
    quiet = frame_levels(segment) < threshold_dbfs
    ranges: list[tuple[int, int]] = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if (end - start) * FRAME_MS >= min_silence_ms:
            ranges.append((int(start) * FRAME_MS, min(int(end) * FRAME_MS, len(segment))))
    return ranges


def split_on_silence(
    segment: AudioSegment,
    min_silence_ms: int = 500,
    threshold_dbfs: float | None = None,
    keep_silence_ms: int = 200,
) -> list[Piece]:
    """The sounding parts between silences, each padded by up to ``keep_silence_ms``.

    Leading and trailing silence is dropped; audio with no sound at all gives no pieces.
    """
    silences = silent_ranges(segment, min_silence_ms, threshold_dbfs)
    sounding: list[tuple[int, int]] = []
    pos = 0
    for s, e in silences:
        if s > pos:
            sounding.append((pos, s))
        pos = e
    if pos < len(segment):
        sounding.append((pos, len(segment)))
    pieces = []
    for s, e in sounding:
        a, b = max(0, s - keep_silence_ms), min(len(segment), e + keep_silence_ms)
        pieces.append(Piece(a / 1000, b / 1000, segment[a:b]))
    return pieces


def _quietest(levels: np.ndarray) -> int:
    """Index in the middle of the longest run of frames within 1 dB of the quietest."""
    quiet = np.concatenate(([0], (levels <= levels.min() + 1.0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(quiet))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int((starts[longest] + ends[longest]) // 2)


def quiet_cut_points(
    segment: AudioSegment, chunk_seconds: float, search_seconds: float = 5.0
) -> list[int]:
    """Cut positions (ms) roughly every ``chunk_seconds``, each moved to the quietest 100 ms
    within ``search_seconds`` before the nominal position, so words are rarely cut in half.
    Returns the boundaries including 0 and the end.
    """
    total = len(segment)
    step = int(chunk_seconds * 1000)
    if total <= step + 1000:
        return [0, total]
    levels = frame_levels(segment)
    window = max(1, 100 // FRAME_MS)
    smooth = np.convolve(np.nan_to_num(levels, neginf=-200.0), np.ones(window) / window, "same")
    cuts = [0]
    while total - cuts[-1] > step + 1000:
        nominal = cuts[-1] + step
        lo = max(cuts[-1] + step // 2, nominal - int(search_seconds * 1000))
        a, b = lo // FRAME_MS, max(lo // FRAME_MS + 1, nominal // FRAME_MS)
        best = a + _quietest(smooth[a:b]) if b <= len(smooth) else nominal // FRAME_MS
        cuts.append(best * FRAME_MS)
    cuts.append(total)
    return cuts
