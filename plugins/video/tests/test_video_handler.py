"""The ``video`` job type through a real worker (jobworker.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_video
from jobworker.testing import WorkerHarness, run_handler
from PIL import Image
from worker_plugin_audio.testing import SPEECH_TEXT, word_error_rate
from worker_plugin_video.testing import TALK_SLIDES


def _run(tmp_path: Path, params: dict, settings: dict | None = None):
    return run_handler(
        "video",
        params,
        plugins=[worker_plugin_video],
        tmp_path=tmp_path,
        input_roots=[tmp_path, *params.pop("_roots", [])],
        settings=settings or {},
    )


def test_metadata_thumbnails_and_audio(tmp_path: Path, talk: Path) -> None:
    run = _run(
        tmp_path,
        {
            "file_path": str(talk),
            "_roots": [talk.parent],
            "operations": ["metadata", "thumbnails", "extract_audio"],
            "thumbnail_count": 3,
            "thumbnail_width": 320,
            "thumbnail_format": "png",
            "audio_format": "opus",
        },
    )
    assert run.error is None, run.error
    res = run.results
    assert res["metadata"]["width"] == 640 and res["metadata"]["has_audio"] is True
    assert [t["time"] for t in res["thumbnails"]] == [1.0, 3.0, 5.0]
    with Image.open(res["thumbnails"][0]["path"]) as img:
        assert (img.format, img.size) == ("PNG", (320, 180))
    assert Path(res["audio"]["path"]).suffix == ".opus" and res["audio"]["duration"] > 4.5
    assert set(res["assets"]) == {*(t["path"] for t in res["thumbnails"]), res["audio"]["path"]}
    assert all(Path(a).is_relative_to(Path(res["asset_dir"])) for a in res["assets"])
    steps = [p.step for p in run.progress]
    assert "thumbnails" in steps and "extract_audio" in steps
    percents = [p.percent for p in run.progress]
    assert percents == sorted(percents)


def test_operations_as_a_comma_separated_string(tmp_path: Path, talk: Path) -> None:
    """``-p operations=metadata,thumbnails`` reaches the plugin as one string and is split on
    commas (the parsing shared with the audio plugin)."""
    run = _run(
        tmp_path,
        {
            "file_path": str(talk),
            "_roots": [talk.parent],
            "operations": "metadata, Thumbnails",
            "thumbnail_count": 2,
        },
    )
    assert run.error is None, run.error
    assert run.results["metadata"]["width"] == 640
    assert [t["time"] for t in run.results["thumbnails"]] == [1.5, 4.5]
    assert "audio" not in run.results


def test_keyframe_thumbnails_via_legacy_filename(tmp_path: Path, talk: Path) -> None:
    run = _run(
        tmp_path,
        {
            "filename": str(talk),
            "_roots": [talk.parent],
            "operations": ["thumbnails"],
            "thumbnail_mode": "keyframes",
        },
    )
    assert run.error is None, run.error
    assert [t["time"] for t in run.results["thumbnails"]] == [0.0, 2.0, 4.0]
    assert all(t["path"].endswith(".jpg") for t in run.results["thumbnails"])


def test_thumbnail_limit_from_settings(tmp_path: Path, talk: Path) -> None:
    run = _run(
        tmp_path,
        {
            "file_path": str(talk),
            "_roots": [talk.parent],
            "operations": ["thumbnails"],
            "thumbnail_count": 8,
        },
        settings={"max_thumbnails": 4},
    )
    assert run.error is not None and run.error.code == "INVALID_PARAMETERS"
    assert "limit is 4" in run.error.message


@pytest.mark.parametrize(
    "params",
    [
        {"operations": ["dance"]},
        {"operations": "metadata,dance"},
        {"operations": {"metadata": True}},
        {"thumbnail_format": "gif"},
        {"thumbnail_count": 0},
        {"thumbnail_at": [-1.0]},
        {"audio_format": "mp3"},
        {"thumbnail_mode": "random"},
    ],
)
def test_bad_parameters_are_refused_at_submit(tmp_path: Path, params: dict) -> None:
    run = _run(tmp_path, {"file_path": "x.mp4", **params})
    assert run.error is not None and run.error.code == "INVALID_PARAMETERS"
    assert run.progress == []


@pytest.mark.parametrize("kind", ["text", "audio_only", "image", "truncated", "empty"])
def test_bad_files(tmp_path: Path, bad_files: dict[str, Path], kind: str) -> None:
    run = _run(tmp_path, {"file_path": str(bad_files[kind]), "operations": ["metadata"]})
    assert run.error is not None and run.error.code == "UNSUPPORTED_INPUT", run.error
    assert bad_files[kind].name in run.error.message


@pytest.mark.parametrize("op", ["transcribe", "extract_audio"])
def test_no_audio_track_when_audio_is_asked(tmp_path: Path, silent: Path, op: str) -> None:
    run = _run(tmp_path, {"file_path": str(silent), "_roots": [silent.parent], "operations": [op]})
    assert run.error is not None and run.error.code == "UNSUPPORTED_INPUT"
    assert "no audio track" in run.error.message


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"max_duration_seconds": 5}, "over the limit of 5 s"),
        ({"max_pixels": 320 * 240}, "640x360"),
    ],
)
def test_limits_from_settings(tmp_path: Path, talk: Path, settings: dict, fragment: str) -> None:
    run = _run(
        tmp_path,
        {"file_path": str(talk), "_roots": [talk.parent], "operations": ["metadata"]},
        settings=settings,
    )
    assert run.error is not None and run.error.code == "INPUT_TOO_LARGE"
    assert fragment in run.error.message


def test_unknown_engine(tmp_path: Path, talk: Path) -> None:
    run = _run(
        tmp_path,
        {
            "file_path": str(talk),
            "_roots": [talk.parent],
            "operations": ["transcribe"],
            "engine": "nope",
        },
    )
    assert run.error is not None and run.error.code == "DEPENDENCY_MISSING"
    assert "worker-plugin-audio[whisper]" in run.error.message


def test_transcript_and_slides_end_to_end_through_the_worker(tmp_path: Path, talk: Path) -> None:
    pytest.importorskip("faster_whisper", reason="needs worker-plugin-audio[whisper]")
    pytest.importorskip("worker_plugin_ocr", reason="needs worker-plugin-ocr")
    with WorkerHarness(tmp_path, plugins=[worker_plugin_video], input_roots=[talk.parent]) as h:
        job = h.client.submit(
            "video", {"file_path": str(talk), "operations": ["metadata", "transcribe", "ocr"]}
        )
        h.run_burst()
        done = h.client.get(job.job_id)
    assert done.status.value == "completed", done.error
    res = done.results
    assert word_error_rate(SPEECH_TEXT, res["transcript"]["text"]) < 0.25, res["transcript"]
    assert res["markdown_content"] == res["video_transcript"] == res["transcript"]["text"]
    assert Path(res["transcript"]["srt"]).read_text().startswith("1\n00:00:0")
    assert [s["text"] for s in res["slides"]] == list(TALK_SLIDES)
    assert res["slides_text"] == "\n\n".join(TALK_SLIDES)
    assert done.progress.percent == 100
