"""Fixtures for worker-plugin-session: a local HTTP server on 127.0.0.1 and a talk video with
espeak-ng speech (made with the video and audio plugins' own fixture makers)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from worker_plugin_session.testing import serve_directory


@pytest.fixture()
def web(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``(directory, base_url)``: files in the directory are served on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as base:
        yield root, base


@pytest.fixture(scope="session")
def talk_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s H.264/AAC talk video: three slides over espeak-ng speech of
    ``worker_plugin_audio.testing.SPEECH_TEXT``."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    audio_testing = pytest.importorskip("worker_plugin_audio.testing")
    video_testing = pytest.importorskip("worker_plugin_video.testing")
    folder = tmp_path_factory.mktemp("talk")
    speech = audio_testing.speech_wav(folder / "speech.wav")
    return video_testing.make_video(folder / "talk.mp4", video_testing.TALK_SLIDES, audio=speech)
