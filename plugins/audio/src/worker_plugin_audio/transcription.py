"""Speech to text through pluggable engines (the hook ``register_transcribers`` of hookspecs.py).

Engines are collected from every installed jobworker plugin (entry-point group ``jobworker``)
once per process; this package contributes ``whisper`` (:mod:`worker_plugin_audio.whisper`).
:func:`transcribe` decodes the audio to 16 kHz mono, cuts it into chunks at quiet points, hands
each chunk to the engine as a WAV file, shifts the segment times back onto the whole recording
and reports progress after every chunk.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import wave
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from jobworker import DependencyMissing, InvalidParameters

from .decoding import AudioSegment, PathLike, decode, resample
from .editing import quiet_cut_points
from .whisper import EXTRA

__all__ = [
    "EXTRA",
    "Transcriber",
    "available_engines",
    "get_engine",
    "transcribe",
]

SAMPLE_RATE = 16_000
DEFAULT_CHUNK_SECONDS = 60.0

ProgressCallback = Callable[[float, float], None]


class Transcriber(Protocol):
    """What an engine factory returns (see ``register_transcribers`` in hookspecs.py)."""

    def transcribe(self, path: str, language: str | None = None) -> Mapping[str, Any]: ...


_lock = threading.Lock()
_engines: dict[tuple[str, str], Transcriber] = {}


def available_engines() -> dict[str, Callable[[Mapping[str, Any]], Transcriber]]:
    """``{name: factory}`` of every engine the worker's plugins register (installed ones and
    those given with ``--plugin``; in a process-executor child, the same set)."""
    from jobworker import active_plugins

    found: dict[str, Callable[[Mapping[str, Any]], Transcriber]] = {}
    for name, factory in active_plugins().collect("register_transcribers"):
        found.setdefault(str(name), factory)
    return found


def get_engine(name: str, settings: Mapping[str, Any] | None = None) -> Transcriber:
    """An engine instance by name, created once per process and settings.

    :raises DependencyMissing: no engine of that name is installed (names the extra to install),
        or the engine's own dependencies are missing.
    """
    settings = dict(settings or {})
    engines = available_engines()
    if name not in engines:
        have = ", ".join(sorted(engines)) or "none"
        raise DependencyMissing(
            f"no transcription engine {name!r} is installed (installed: {have}); "
            f"for offline Whisper: pip install '{EXTRA}'",
            details={
                "engine": name,
                "installed": sorted(engines),
                "install": f"pip install '{EXTRA}'",
            },
        )
    key = (name, repr(sorted(settings.items(), key=lambda kv: kv[0])))
    with _lock:
        engine = _engines.get(key)
    if engine is None:
        engine = engines[name](settings)
        with _lock:
            _engines[key] = engine
    return engine


def _write_wav(segment: AudioSegment, path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(segment.channels)
        out.setsampwidth(segment.sample_width)
        out.setframerate(segment.frame_rate)
        out.writeframes(segment.raw_data)


def transcribe(
    source: PathLike | AudioSegment,
    engine: str | Transcriber = "whisper",
    settings: Mapping[str, Any] | None = None,
    language: str | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    chunk_seconds: float | None = None,
    max_duration: float | None = None,
) -> dict[str, Any]:
    """Transcribe a file or decoded audio.

    :param engine: an engine name (see :func:`available_engines`) or an engine object.
    :param settings: passed to the engine factory (e.g. ``model_dir``); ``chunk_seconds`` is
        read from it when not given.
    :param on_progress: ``on_progress(done_seconds, total_seconds)`` after each chunk; it may
        raise (e.g. :class:`jobworker.Cancelled`) to stop.
    :returns: ``{"text", "language", "segments": [{"start", "end", "text"}], "duration",
        "engine", "chunks"}``.
    :raises UnsupportedInput: the source is not audio or holds none.
    :raises DependencyMissing: the engine is not installed.
    """
    settings = dict(settings or {})
    chunk = float(chunk_seconds or settings.get("chunk_seconds") or DEFAULT_CHUNK_SECONDS)
    if chunk < 5:
        raise InvalidParameters(f"chunk_seconds must be at least 5, not {chunk}")
    engine_name = engine if isinstance(engine, str) else type(engine).__name__
    runner = get_engine(engine, settings) if isinstance(engine, str) else engine
    if isinstance(source, AudioSegment):
        audio = resample(source, SAMPLE_RATE, 1)
    else:
        audio = decode(source, sample_rate=SAMPLE_RATE, channels=1, max_duration=max_duration)
    total = len(audio) / 1000
    cuts = quiet_cut_points(audio, chunk)
    segments: list[dict[str, Any]] = []
    languages: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jw-transcribe-") as tmp:
        for index, (a, b) in enumerate(itertools.pairwise(cuts)):
            piece = Path(tmp) / f"chunk-{index:05d}.wav"
            _write_wav(audio[a:b], piece)
            result = runner.transcribe(str(piece), language=language)
            piece.unlink()
            offset = a / 1000
            found = list(result.get("segments") or [])
            if not found and str(result.get("text") or "").strip():
                found = [{"start": 0.0, "end": (b - a) / 1000, "text": result["text"]}]
            for seg in found:
                text = str(seg.get("text", "")).strip()
                if text:
                    segments.append(
                        {
                            "start": round(offset + float(seg["start"]), 3),
                            "end": round(offset + float(seg["end"]), 3),
                            "text": text,
                        }
                    )
            if result.get("language"):
                languages.append(str(result["language"]))
            if on_progress is not None:
                on_progress(b / 1000, total)
    return {
        "text": " ".join(s["text"] for s in segments),
        "language": max(set(languages), key=languages.count) if languages else language,
        "segments": segments,
        "duration": round(total, 3),
        "engine": engine_name,
        "chunks": len(cuts) - 1,
    }
