"""The ``audio`` job type through a real worker (jobworker.testing): operations and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_audio
from jobworker.testing import WorkerHarness, run_handler
from worker_plugin_audio import api
from worker_plugin_audio.testing import SPEECH_TEXT, word_error_rate


def _run(
    tmp_path: Path,
    params: dict,
    settings: dict | None = None,
    input_roots: list[Path] | None = None,
):
    return run_handler(
        "audio",
        params,
        plugins=[worker_plugin_audio],
        tmp_path=tmp_path,
        input_roots=input_roots,
        settings=settings or {},
    )


def test_metadata_only(tmp_path: Path, tones: Path) -> None:
    run = _run(tmp_path, {"file_path": str(tones), "operations": ["metadata"]})
    assert run.error is None, run.error
    meta = run.results["metadata"]
    assert (meta["codec"], meta["sample_rate"], meta["channels"]) == ("pcm_s16le", 44100, 2)
    assert meta["duration"] == pytest.approx(5.3)
    assert run.results["assets"] == []


def test_trim_normalise_convert(tmp_path: Path, tones: Path) -> None:
    run = _run(
        tmp_path,
        {
            "filename": str(tones),  # legacy key
            "operations": ["trim", "normalize", "convert"],
            "start": 3.3,
            "format": "opus",
            "bitrate": "48k",
            "channels": 1,
            "target_dbfs": -18,
        },
    )
    assert run.error is None, run.error
    out = Path(run.results["converted"]["path"])
    assert out.suffix == ".opus" and str(out) in run.results["assets"]
    info = api.probe(out)
    assert (info.codec, info.channels) == ("opus", 1)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert run.results["loudness"]["after_dbfs"] == pytest.approx(-18, abs=0.3)
    assert api.decode(out).dBFS == pytest.approx(-18, abs=1.0)
    steps = [p.step for p in run.progress]
    assert "decoding" in steps and "converting" in steps


def test_split_on_silence_writes_parts(tmp_path: Path, tones: Path) -> None:
    run = _run(
        tmp_path,
        {
            "extra": {"file_path": str(tones)},
            "operations": ["split"],
            "split_mode": "silence",
            "format": "wav",
            "keep_silence_ms": 0,
        },
    )
    assert run.error is None, run.error
    parts = run.results["parts"]
    assert [(p["start"], p["end"]) for p in parts] == [(0.0, 1.0), (2.0, 2.5), (3.3, 5.3)]
    assert [len(api.decode(p["path"])) for p in parts] == [1000, 500, 2000]


def test_split_fixed_respects_max_parts(tmp_path: Path, tones: Path) -> None:
    run = _run(
        tmp_path,
        {"file_path": str(tones), "operations": ["split"], "segment_seconds": 0.5},
        settings={"max_parts": 5},
    )
    assert run.error is not None and run.error.code == "INPUT_TOO_LARGE"
    assert (run.error.details["parts"], run.error.details["limit"]) == (11, 5)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"operations": ["fly"]}, "operations"),
        ({"format": "xyz"}, "format"),
        ({"bitrate": "fast"}, "bitrate"),
        ({"channels": 6}, "channels"),
        ({"target_dbfs": 5}, "target_dbfs"),
    ],
)
def test_bad_parameters_are_refused_at_submit(tmp_path: Path, params: dict, fragment: str) -> None:
    run = _run(tmp_path, {"file_path": "x.wav", **params})
    assert run.error is not None and run.error.code == "INVALID_PARAMETERS", fragment
    assert run.progress == []


def test_operations_as_a_comma_separated_string(tmp_path: Path, tones: Path) -> None:
    """``-p operations=metadata,normalize,convert`` reaches the plugin as one string: split on
    commas (not into characters by the core's structuring), the alias resolved."""
    run = _run(
        tmp_path,
        {"file_path": str(tones), "operations": " metadata, Normalize,convert", "format": "wav"},
    )
    assert run.error is None, run.error
    assert run.results["metadata"]["channels"] == 2
    assert run.results["loudness"]["after_dbfs"] == pytest.approx(-20, abs=0.3)
    assert Path(run.results["converted"]["path"]).suffix == ".wav"


@pytest.mark.parametrize(
    ("operations", "fragment"),
    [
        ("metadata,fly", "got ['metadata', 'fly']"),
        (" , ", "got []"),
        ({"metadata": True}, "a list of names or a comma-separated string, not dict"),
        (7, "a list of names or a comma-separated string, not int"),
    ],
)
def test_bad_operations_are_refused_with_their_reason(
    tmp_path: Path, operations: object, fragment: str
) -> None:
    run = _run(tmp_path, {"file_path": "x.wav", "operations": operations})
    assert run.error is not None and run.error.code == "INVALID_PARAMETERS"
    assert fragment in run.error.message, run.error.message
    assert run.progress == []


@pytest.mark.parametrize("kind", ["text", "empty", "zero_length", "image", "truncated"])
def test_bad_files_fail_with_unsupported_input(
    tmp_path: Path, bad_files: dict[str, Path], kind: str
) -> None:
    run = _run(tmp_path, {"file_path": str(bad_files[kind]), "operations": ["metadata"]})
    assert run.error is not None and run.error.code == "UNSUPPORTED_INPUT", run.error
    assert bad_files[kind].name in run.error.message


def test_duration_over_configured_limit(tmp_path: Path, tones: Path) -> None:
    run = _run(
        tmp_path,
        {"file_path": str(tones), "operations": ["convert"]},
        settings={"max_duration_seconds": 5},
    )
    assert run.error is not None and run.error.code == "INPUT_TOO_LARGE"
    assert run.error.details["limit"] == 5


def test_missing_and_forbidden_paths(tmp_path: Path) -> None:
    run = _run(tmp_path, {"file_path": "nope.wav"})
    assert run.error.code == "INPUT_NOT_FOUND"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "outside.wav").write_bytes(b"RIFF")
    run = _run(tmp_path, {"file_path": "../outside.wav"}, input_roots=[inbox])
    assert run.error.code == "INPUT_FORBIDDEN"
    run = _run(tmp_path, {"file_path": "/etc/hostname"})
    assert run.error.code == "INPUT_FORBIDDEN"
    run = _run(tmp_path, {"operations": ["metadata"]})
    assert run.error.code == "INVALID_PARAMETERS"


def test_unknown_engine_fails_with_dependency_missing(tmp_path: Path, tones: Path) -> None:
    run = _run(
        tmp_path, {"file_path": str(tones), "operations": ["transcribe"], "engine": "nonexistent"}
    )
    assert run.error is not None and run.error.code == "DEPENDENCY_MISSING"
    assert "worker-plugin-audio[whisper]" in run.error.message


def test_transcription_end_to_end_through_the_worker(tmp_path: Path, speech: Path) -> None:
    pytest.importorskip("faster_whisper", reason="needs worker-plugin-audio[whisper]")
    clip = tmp_path / "talk.m4a"
    api.convert(speech, clip, bitrate="64k")
    with WorkerHarness(tmp_path, plugins=[worker_plugin_audio]) as h:
        job = h.client.submit("audio", {"file_path": str(clip)})  # default: metadata+transcribe
        h.run_burst()
        done = h.client.get(job.job_id)
    assert done.status.value == "completed", done.error
    transcript = done.results["transcript"]
    assert word_error_rate(SPEECH_TEXT, transcript["text"]) < 0.25, transcript["text"]
    assert done.results["markdown_content"] == transcript["text"]
    assert transcript["language"] == "en" and transcript["segments"]
    srt, vtt = Path(transcript["srt"]), Path(transcript["vtt"])
    assert srt.parent.name == job.job_id
    assert transcript["segments"][0]["text"] in srt.read_text()
    assert vtt.read_text().startswith("WEBVTT")
    assert done.results["metadata"]["codec"] == "aac"
    assert done.progress.percent == 100
