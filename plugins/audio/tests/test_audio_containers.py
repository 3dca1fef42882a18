"""Only single-file containers are opened: every allowed demuxer still works; playlists,
concat lists (local or naming URLs) and other formats are refused as ``UNSUPPORTED_INPUT``
through a real worker, without FFmpeg touching the files or URLs they name."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import worker_plugin_audio
from jobworker import UnsupportedInput
from jobworker.testing import WorkerHarness
from worker_plugin_audio.api import SINGLE_FILE_FORMATS, decode, open_input, probe
from worker_plugin_audio.testing import (
    SAMPLE_SPECS,
    concat_list,
    container_sample,
    hls_playlist,
)

AUDIO_FREE = {"ivf"} | {f for f, spec in SAMPLE_SPECS.items() if spec[2] == "image"}


def test_every_allowed_format_has_a_sample() -> None:
    assert set(SAMPLE_SPECS) == set(SINGLE_FILE_FORMATS)


@pytest.mark.parametrize("fmt", SINGLE_FILE_FORMATS)
def test_allowed_format_opens(tmp_path: Path, fmt: str) -> None:
    path = container_sample(tmp_path, fmt)
    with open_input(path) as container:
        assert fmt in container.format.name.split(",")
    if fmt in AUDIO_FREE:
        with pytest.raises(UnsupportedInput, match="no audio stream"):
            probe(path)
    else:
        assert len(decode(path)) / 1000 == pytest.approx(1.0, abs=0.1)  # decoded, not estimated


class _Recorder(SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording_server(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root`` on 127.0.0.1; yields the base URL and the list of requested paths."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def hostile(tmp_path: Path) -> Iterator[tuple[dict[str, Path], list[str]]]:
    """Multi-file inputs inside the input root ``tmp_path/inbox``, naming a real MP3 outside
    it (relative and absolute) or on a local HTTP server; and the server's request log."""
    inbox, outside, www = tmp_path / "inbox", tmp_path / "outside", tmp_path / "www"
    for folder in (inbox, outside, www):
        folder.mkdir()
    secret = container_sample(outside, "mp3")
    container_sample(www, "mp3")
    with recording_server(www) as (base, seen):
        files = {
            "relative_playlist": hls_playlist(inbox / "rel.m3u8", [f"../outside/{secret.name}"]),
            "absolute_playlist": hls_playlist(inbox / "abs.m3u8", [str(secret)]),
            "playlist_named_mp3": hls_playlist(inbox / "talk.mp3", [str(secret)]),
            "remote_playlist": hls_playlist(inbox / "remote.m3u8", [f"{base}/sample-mp3.mp3"]),
            "concat_list": concat_list(inbox / "list.ffconcat", [str(secret)]),
            "subtitles": inbox / "talk.srt",
        }
        files["subtitles"].write_text("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
        yield files, seen


def test_multi_file_inputs_are_refused_by_the_worker(
    tmp_path: Path, hostile: tuple[dict[str, Path], list[str]]
) -> None:
    files, seen = hostile
    good = container_sample(tmp_path / "inbox", "flac")
    with WorkerHarness(
        tmp_path / "jw", plugins=[worker_plugin_audio], input_roots=[tmp_path / "inbox"]
    ) as h:
        ids = {
            name: h.client.submit(
                "audio", {"file_path": path.name, "operations": ["metadata"]}, max_attempts=3
            ).job_id
            for name, path in {**files, "good": good}.items()
        }
        h.run_burst()
        jobs = {name: h.client.get(job_id) for name, job_id in ids.items()}
    assert jobs.pop("good").status.value == "completed"
    for name, job in jobs.items():
        assert job.status.value == "failed" and job.attempts == 1, name
        assert job.error.code == "UNSUPPORTED_INPUT", (name, job.error)
        assert job.error.details["reason"] == "format_not_allowed", (name, job.error)
        assert "only single-file media containers are read" in job.error.message
    assert "HLS/M3U playlist" in jobs["remote_playlist"].error.message
    assert "concat list" in jobs["concat_list"].error.message
    assert seen == []  # the remote playlist's segment was never requested


@pytest.mark.parametrize(
    ("maker", "name"), [(hls_playlist, "list.m3u8"), (concat_list, "list.ffconcat")]
)
def test_ffmpeg_whitelist_refuses_without_the_header_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maker: object, name: str
) -> None:
    """The protection is FFmpeg's own ``format_whitelist``; the header check only names what
    the file is. With that check switched off, playlists and lists are still refused."""
    from worker_plugin_audio import containers

    monkeypatch.setattr(containers, "_list_kind", lambda _path: None)
    secret = container_sample(tmp_path, "wav")
    path = maker(tmp_path / name, [str(secret)])  # type: ignore[operator]
    with pytest.raises(UnsupportedInput, match="is not in one of the allowed formats") as info:
        probe(path)
    assert info.value.details["reason"] == "format_not_allowed"
