"""Fixtures for worker-plugin-video: videos made with PyAV from numpy frames, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_plugin_video.testing import TALK_SLIDES, make_video


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng speech of ``worker_plugin_audio.testing.SPEECH_TEXT`` (about 5 s)."""
    from worker_plugin_audio.testing import speech_wav

    return speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav")


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory, speech: Path) -> Path:
    """A 6 s H.264/AAC talk: three slides (keyframes at 0, 2, 4 s) over the speech."""
    return make_video(tmp_path_factory.mktemp("video") / "talk.mp4", TALK_SLIDES, audio=speech)


@pytest.fixture(scope="session")
def silent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s MPEG-4 part 2 video in Matroska without an audio track."""
    return make_video(
        tmp_path_factory.mktemp("video") / "silent.mkv", ("A", "B"), codec="mpeg4", fps=12
    )


@pytest.fixture()
def bad_files(tmp_path: Path, talk: Path, speech: Path) -> dict[str, Path]:
    """Files that are not usable video, by the reason they should be refused with."""
    from PIL import Image

    files = {
        "empty": tmp_path / "empty.mp4",
        "text": tmp_path / "notes.mp4",
        "audio_only": tmp_path / "speech.wav",
        "image": tmp_path / "still.png",
        "truncated": tmp_path / "truncated.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("not a video, just words\n" * 50)
    files["audio_only"].write_bytes(speech.read_bytes())
    Image.new("RGB", (64, 48), "blue").save(files["image"])
    files["truncated"].write_bytes(talk.read_bytes()[: talk.stat().st_size // 2])
    return files
