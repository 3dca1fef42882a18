"""SubRip (``.srt``) and WebVTT (``.vtt``) text from transcript segments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["to_srt", "to_vtt", "write_subtitles"]


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(segments: Iterable[Mapping[str, Any]]) -> list[tuple[float, float, str]]:
    cues = []
    for seg in segments:
        text = " ".join(str(seg.get("text", "")).split())
        if text:
            start = float(seg["start"])
            cues.append((start, max(start, float(seg["end"])), text))
    return cues


def to_srt(segments: Iterable[Mapping[str, Any]]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    blocks = [
        f"{i}\n{_stamp(s, ',')} --> {_stamp(e, ',')}\n{t}\n"
        for i, (s, e, t) in enumerate(_cues(segments), 1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Iterable[Mapping[str, Any]]) -> str:
    """WebVTT text: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    blocks = [
        f"{_stamp(s, '.')} --> {_stamp(e, '.')}\n{t.replace('-->', '->')}\n"
        for s, e, t in _cues(segments)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(
    segments: Iterable[Mapping[str, Any]], directory: Path, stem: str = "transcript"
) -> dict[str, Path]:
    """Write ``<stem>.srt`` and ``<stem>.vtt`` into ``directory``; returns ``{"srt", "vtt"}``."""
    segments = list(segments)
    directory.mkdir(parents=True, exist_ok=True)
    srt, vtt = directory / f"{stem}.srt", directory / f"{stem}.vtt"
    srt.write_text(to_srt(segments), encoding="utf-8")
    vtt.write_text(to_vtt(segments), encoding="utf-8")
    return {"srt": srt, "vtt": vtt}
