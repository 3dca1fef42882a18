"""Transcription with the shipped whisper engine (faster-whisper + tiny.en) on espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_plugin_audio import api
from worker_plugin_audio.testing import SPEECH_TEXT, silence, word_error_rate

pytest.importorskip("faster_whisper", reason="needs worker-plugin-audio[whisper]")


def test_transcribe_espeak_speech(speech: Path, tmp_path: Path) -> None:
    result = api.transcribe(speech, "whisper", {})
    assert word_error_rate(SPEECH_TEXT, result["text"]) < 0.25, result["text"]
    assert result["language"] == "en"
    assert result["chunks"] == 1
    segments = result["segments"]
    assert segments and all(
        0 <= s["start"] < s["end"] <= result["duration"] + 0.5 for s in segments
    )
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    files = api.write_subtitles(segments, tmp_path, "t")
    srt = files["srt"].read_text()
    assert srt.startswith("1\n00:00:0") and segments[0]["text"] in srt
    assert files["vtt"].read_text().startswith("WEBVTT\n\n00:00:0")


def test_long_audio_is_chunked_with_progress(speech: Path) -> None:
    speech_seg = api.decode(speech)
    long = speech_seg + silence(1.5, rate=speech_seg.frame_rate) + speech_seg
    seen: list[tuple[float, float]] = []
    result = api.transcribe(
        long,
        "whisper",
        {"chunk_seconds": 6},
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert result["chunks"] == len(seen) >= 2
    assert seen[-1][0] == pytest.approx(seen[-1][1])
    assert word_error_rate(f"{SPEECH_TEXT} {SPEECH_TEXT}", result["text"]) < 0.25, result["text"]
    second_half = [s for s in result["segments"] if s["start"] >= len(speech_seg) / 1000]
    assert second_half, result["segments"]  # times were shifted onto the whole recording


def test_the_demo_voice_is_transcribed_word_for_word(tmp_path: Path) -> None:
    """flite's ``slt`` voice (the demo speaks with it) comes back exactly, where espeak-ng's
    robotic voice loses words of the same sentence (issue 15)."""
    from worker_plugin_audio.testing import speech_wav

    said = (
        "Cities publish their budgets as open data. Citizens can follow the spending "
        "and ask better questions."
    )
    clear = api.transcribe(speech_wav(tmp_path / "slt.wav", said, engine="flite"))
    robotic = api.transcribe(speech_wav(tmp_path / "espeak.wav", said))
    assert word_error_rate(said, clear["text"]) <= 0.05, clear["text"]
    assert word_error_rate(said, robotic["text"]) > word_error_rate(said, clear["text"])
