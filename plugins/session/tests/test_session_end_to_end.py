"""A session job end to end through a real worker: page, talk video and slides served by a
local HTTP server on 127.0.0.1, transcribed with the audio plugin's offline Whisper engine."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import worker_plugin_session
import worker_plugin_transform
from jobworker.testing import WorkerHarness
from worker_plugin_session.testing import LOCAL, PAGE_TEXT, SLIDES, session_page, slide_deck
from worker_plugin_transform.api import parse_front_matter

PLUGINS = [worker_plugin_session, worker_plugin_transform]


def test_session_page_video_and_slides_into_markdown(
    tmp_path: Path, web: tuple[Path, str], talk_video: Path
) -> None:
    pytest.importorskip("worker_plugin_pdf.api")
    audio = pytest.importorskip("worker_plugin_audio.api")
    if "whisper" not in audio.available_engines():
        pytest.skip("no whisper engine (pip install 'worker-plugin-audio[whisper]')")
    root, base = web
    (root / "talk.html").write_text(session_page("Open budgets"))
    shutil.copy(talk_video, root / "talk.mp4")
    slide_deck(root / "slides.pdf")
    params = {
        "event": "FOSS Days 2024",
        "session": "Open budgets: a city's view",
        "track": "Open Government",
        "filename": "open-budgets",
        "day": "2024-05-02",
        "starttime": "10:00",
        "endtime": "10:30",
        "speakers": ["Ada Lovelace"],
        "url": f"{base}/talk.html",
        "video_url": f"{base}/talk.mp4",
        "attachments_url": f"{base}/slides.pdf",
        "source_language": "en",
    }
    out = tmp_path / "output"
    with WorkerHarness(
        tmp_path, plugins=PLUGINS, output_root=out, settings={"session": LOCAL}
    ) as h:
        job = h.client.submit("session", params)
        h.run_burst()
        done = h.client.get(job.job_id)
        assert done.status.value == "completed", done.error
        r = done.results

        md_file = out / job.job_id / "FOSS Days 2024" / "Open Government" / "open-budgets.md"
        assert r["markdown_file"] == str(md_file)
        markdown = md_file.read_text()
        assert markdown == r["markdown_content"]
        # The page's main text, the spoken words, the slides' text, all in the document.
        assert PAGE_TEXT in markdown and "Programme" not in markdown
        spoken = r["video_transcript"].lower()
        assert "window" in spoken and "garden" in spoken
        assert r["video_transcript"] in markdown
        for slide in SLIDES:
            assert slide in markdown and slide in r["attachments_text"]
        meta, body = parse_front_matter(markdown)
        assert meta["event"] == "FOSS Days 2024" and meta["speakers"] == ["Ada Lovelace"]
        assert meta["attachments"] == ["assets/open-budgets/slides.pdf"]
        assert body.lstrip().startswith("# Open budgets: a city's view")

        asset = md_file.parent / "assets" / "open-budgets" / "slides.pdf"
        assert r["assets"] == [str(asset)] and asset.read_bytes().startswith(b"%PDF")
        assert r["archive_filename"] == "open-budgets.zip" and r["archive_data"] is None
        with zipfile.ZipFile(r["archive_path"]) as zf:
            assert sorted(zf.namelist()) == ["assets/open-budgets/slides.pdf", "open-budgets.md"]
        assert r["web_text"].endswith(PAGE_TEXT) and r["context"]["page_title"] == "Open budgets"
        assert r["target_dir"] == str(md_file.parent) and r["page_texts"] == []
        steps = r["structured_data"]["steps"]
        assert steps["video"]["cached"] is False and steps["attachments"][0]["pages"] == 2
        assert any("transcript" in e.message for e in done.logs)

        # The same talk again: the transcript comes from the cache; the new job writes its own
        # document and leaves the first job's alone.
        again = h.client.submit("session", {**params, "session": "Open budgets (repeat)"})
        h.run_burst()
        second = h.client.get(again.job_id)
        assert second.status.value == "completed", second.error
        assert second.results["structured_data"]["steps"]["video"]["cached"] is True
        assert second.results["video_transcript"] == r["video_transcript"]
        own = out / again.job_id / "FOSS Days 2024" / "Open Government" / "open-budgets.md"
        assert second.results["markdown_file"] == str(own)
        assert "# Open budgets (repeat)" in own.read_text()
        assert md_file.read_text() == r["markdown_content"]
