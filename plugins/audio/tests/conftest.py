"""Fixtures for worker-plugin-audio: audio generated on the spot (espeak-ng, numpy tones)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from worker_plugin_audio.testing import silence, speech_wav, tone_sequence


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 5 s of espeak-ng speech of ``testing.SPEECH_TEXT`` (needs apt's espeak-ng)."""
    return speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav")


@pytest.fixture()
def tones(tmp_path: Path) -> Path:
    """Stereo WAV: tone 1 s, silence 1 s, tone 0.5 s, silence 0.8 s, tone 2 s (5.3 s)."""
    from worker_plugin_audio.api import export

    seg = tone_sequence(
        [("tone", 1), ("silence", 1), ("tone", 0.5), ("silence", 0.8), ("tone", 2)], channels=2
    )
    return export(seg, tmp_path / "tones.wav")


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """Files that are not usable audio, by the reason they should be refused with."""
    from PIL import Image
    from worker_plugin_audio.api import export

    files = {}
    files["empty"] = tmp_path / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = tmp_path / "notes.mp3"
    files["text"].write_text("this is not audio at all\n" * 40)
    files["random"] = tmp_path / "noise.ogg"
    files["random"].write_bytes(bytes((i * 7919 + 13) % 251 for i in range(8000)))
    files["zero_length"] = tmp_path / "zero.wav"
    with wave.open(str(files["zero_length"]), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    files["image"] = tmp_path / "picture.png"
    Image.new("RGB", (32, 32), "red").save(files["image"])
    m4a = export(silence(2.0) + tone_sequence([("tone", 1)]), tmp_path / "whole.m4a")
    files["truncated"] = tmp_path / "truncated.m4a"
    files["truncated"].write_bytes(m4a.read_bytes()[: m4a.stat().st_size // 3])
    return files
