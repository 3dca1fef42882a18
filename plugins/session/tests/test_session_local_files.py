"""A session whose page, video and slides are local files under the input roots (no HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_audio
import worker_plugin_pdf
import worker_plugin_session
import worker_plugin_transform
import worker_plugin_video
from jobworker.testing import run_handler
from worker_plugin_audio.testing import espeak_available, speech_wav
from worker_plugin_session.testing import session_page, slide_deck
from worker_plugin_video.testing import make_video

PLUGINS = [
    worker_plugin_session,
    worker_plugin_transform,
    worker_plugin_pdf,
    worker_plugin_video,
    worker_plugin_audio,
]


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is installed by scripts/setup.sh")
def test_local_files_under_the_input_roots(tmp_path: Path) -> None:
    src = tmp_path / "talk"
    src.mkdir()
    (src / "page.html").write_text(session_page("Local talk", "Budgets are public data."))
    slide_deck(src / "slides.pdf", ["Local slides"])
    speech_wav(src / "speech.wav", "Please open the door and close the window.")
    make_video(src / "talk.mp4", ["One"], seconds_per_slide=3.0, audio=src / "speech.wav")
    run = run_handler(
        "session",
        {
            "event": "Conf",
            "session": "Local talk",
            "track": "T",
            "filename": "local",
            "url": "talk/page.html",
            "video_url": "talk/talk.mp4",
            "attachments_url": "talk/slides.pdf",
        },
        plugins=PLUGINS,
        tmp_path=tmp_path,
    )
    assert run.error is None, run.error
    text = Path(run.results["markdown_file"]).read_text()
    assert "Budgets are public data." in text
    assert "Local slides" in text
    assert "window" in text.lower()
