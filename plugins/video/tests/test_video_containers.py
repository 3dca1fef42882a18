"""The video plugin opens files through worker-plugin-audio's single-file allow-list
(``open_input``): every video container still works, and a playlist is refused through a real
worker without FFmpeg reading the segment outside the input root."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_video
from jobworker.testing import WorkerHarness
from worker_plugin_audio.api import SINGLE_FILE_FORMATS
from worker_plugin_audio.testing import concat_list, hls_playlist
from worker_plugin_video import api
from worker_plugin_video.testing import make_video

# allowed demuxer -> (suffix, muxer, video codec)
VIDEO_CONTAINERS = {
    "mov": (".mp4", "mp4", "libx264"),
    "matroska": (".mkv", "matroska", "libx264"),
    "webm": (".webm", "webm", "libvpx"),
    "avi": (".avi", "avi", "mpeg4"),
    "mpegts": (".ts", "mpegts", "mpeg2video"),
    "mpeg": (".mpg", "mpeg", "mpeg2video"),
    "flv": (".flv", "flv", "flv"),
    "nut": (".nut", "nut", "mpeg4"),
    "ivf": (".ivf", "ivf", "libvpx"),
    "asf": (".wmv", "asf", "wmv2"),
}


@pytest.mark.parametrize("fmt", sorted(VIDEO_CONTAINERS))
def test_video_container_is_read(tmp_path: Path, fmt: str) -> None:
    assert fmt in SINGLE_FILE_FORMATS
    suffix, muxer, codec = VIDEO_CONTAINERS[fmt]
    path = make_video(
        tmp_path / f"clip{suffix}",
        ("A", "B"),
        seconds_per_slide=1.0,
        fps=25,
        size=(160, 96),
        codec=codec,
        container=muxer,
    )
    info = api.probe(path)
    assert fmt in info.container.split(",") and (info.width, info.height) == (160, 96)
    assert len(api.thumbnails(path, count=2)) == 2


def test_playlists_are_refused_by_the_worker(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = make_video(outside / "secret.ts", ("Secret",), container="mpegts", codec="mpeg2video")
    good = make_video(inbox / "good.mp4", ("Hello",))
    files = {
        "relative": hls_playlist(inbox / "rel.m3u8", [f"../outside/{secret.name}"]),
        "absolute": hls_playlist(inbox / "abs.m3u8", [str(secret)]),
        "concat": concat_list(inbox / "list.ffconcat", [str(secret)]),
        "good": good,
    }
    with WorkerHarness(tmp_path / "jw", plugins=[worker_plugin_video], input_roots=[inbox]) as h:
        ids = {
            name: h.client.submit(
                "video", {"file_path": path.name, "operations": ["metadata"]}, max_attempts=3
            ).job_id
            for name, path in files.items()
        }
        h.run_burst()
        jobs = {name: h.client.get(job_id) for name, job_id in ids.items()}
    assert jobs.pop("good").status.value == "completed"
    for name, job in jobs.items():
        assert job.status.value == "failed" and job.attempts == 1, name
        assert job.error.code == "UNSUPPORTED_INPUT", (name, job.error)
        assert job.error.details["reason"] == "format_not_allowed", (name, job.error)
