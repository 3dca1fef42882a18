"""A session job's files and inputs stay its own: it cannot overwrite another job's output,
and a talk "video" that is a playlist (local or downloaded) is refused without FFmpeg reading
what the playlist names."""

from __future__ import annotations

from pathlib import Path

import worker_plugin_audio
import worker_plugin_session
import worker_plugin_transform
import worker_plugin_video
from jobworker.testing import WorkerHarness
from worker_plugin_audio.testing import container_sample, hls_playlist
from worker_plugin_session.testing import LOCAL, serve_directory

PLUGINS = [worker_plugin_session, worker_plugin_transform, worker_plugin_video, worker_plugin_audio]


def test_a_session_job_cannot_overwrite_another_jobs_files(tmp_path: Path) -> None:
    out = tmp_path / "output"
    with WorkerHarness(tmp_path, plugins=PLUGINS, output_root=out) as h:
        victim = h.client.submit(
            "transform",
            {"text": "precious", "template_content": "{{ text }}", "output_filename": "output"},
        )
        h.run_burst()
        victim_file = Path(h.client.get(victim.job_id).results["markdown_file"])
        assert victim_file == out / victim.job_id / "output.md"
        assert victim_file.read_text() == "precious"

        attack = {"event": victim.job_id, "session": "Overwrite", "filename": "output.md"}
        first = h.client.submit("session", attack)
        second = h.client.submit("session", {**attack, "session": "Again"})
        h.run_burst()
        done = [h.client.get(j.job_id) for j in (first, second)]

    assert victim_file.read_text() == "precious"  # untouched
    for job in done:
        assert job.status.value == "completed", job.error
        written = Path(job.results["markdown_file"])
        assert written == out / job.job_id / victim.job_id / "output.md"
        assert Path(job.results["target_dir"]).is_relative_to(out / job.job_id)
    # two jobs with the same event and filename each keep their own document
    assert [Path(j.results["markdown_file"]).read_text() for j in done] == [
        j.results["markdown_content"] for j in done
    ]
    assert "Overwrite" in done[0].results["markdown_content"]
    assert "Again" in done[1].results["markdown_content"]


def test_playlist_video_urls_are_refused(tmp_path: Path) -> None:
    inbox, outside, www = tmp_path / "inbox", tmp_path / "outside", tmp_path / "www"
    for folder in (inbox, outside, www):
        folder.mkdir()
    secret = container_sample(outside, "mp3")
    container_sample(www, "mp3")
    requests: list[str] = []
    with serve_directory(www, requests) as base:
        hls_playlist(inbox / "local.m3u8", [f"../outside/{secret.name}"])
        hls_playlist(www / "remote.m3u8", [f"{base}/sample-mp3.mp3"])
        with WorkerHarness(
            tmp_path / "jw", plugins=PLUGINS, input_roots=[inbox], settings={"session": LOCAL}
        ) as h:
            ids = {
                name: h.client.submit(
                    "session",
                    {"event": "Conf", "session": name, "video_url": url},
                    max_attempts=3,
                ).job_id
                for name, url in {
                    "local": "local.m3u8",
                    "remote": f"{base}/remote.m3u8",
                }.items()
            }
            h.run_burst()
            jobs = {name: h.client.get(job_id) for name, job_id in ids.items()}
    for name, job in jobs.items():
        assert job.status.value == "failed" and job.attempts == 1, name
        assert job.error.code == "UNSUPPORTED_INPUT", (name, job.error)
        assert job.error.details["reason"] == "format_not_allowed", (name, job.error)
    assert requests == ["/remote.m3u8"]  # the playlist was downloaded, its segment never
