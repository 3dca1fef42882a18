"""Fixture makers for tests and benchmarks of audio (and of plugins reusing it).

They generate everything on the spot: speech with Debian's ``espeak-ng`` (``apt install
espeak-ng``), tones and silences with numpy, written with PyAV. :func:`word_error_rate` scores a
transcript against the text that was spoken.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .decoding import AudioSegment, segment_from_array

__all__ = [
    "SENTENCES",
    "SPEECH_TEXT",
    "espeak_available",
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


def speech_wav(path: Path, text: str = SPEECH_TEXT, *, voice: str = "en", speed: int = 160) -> Path:
    """Speak ``text`` with espeak-ng into a WAV file (22.05 kHz mono)."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
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
