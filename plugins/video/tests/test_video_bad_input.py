"""Every kind of bad video input ends in a typed error, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jobworker import DependencyMissing, InputTooLarge, UnsupportedInput
from worker_plugin_video import api

REASONS = {
    "empty": "empty",
    "text": "unreadable",
    "audio_only": "no_video_stream",
    "image": "still_image",
    "truncated": "unreadable",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_bad_files_are_unsupported_input(bad_files: dict[str, Path], kind: str) -> None:
    for call in (
        api.probe,
        lambda p: api.thumbnails(p, count=1),
        lambda p: list(api.iter_keyframes(p)),
    ):
        with pytest.raises(UnsupportedInput) as err:
            call(bad_files[kind])
        assert err.value.code == "UNSUPPORTED_INPUT"
        assert err.value.details["reason"] == REASONS[kind]
        assert bad_files[kind].name in err.value.message


def test_header_only_container_is_refused(tmp_path: Path, silent: Path) -> None:
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(silent.read_bytes()[:200])
    with pytest.raises(UnsupportedInput) as err:
        api.probe(cut)
    assert err.value.details["reason"] == "unreadable"


def test_damaged_video_data_gives_frames_or_a_typed_error(tmp_path: Path, silent: Path) -> None:
    data = bytearray(silent.read_bytes())
    data[600:] = bytes((i * 131 + 7) % 256 for i in range(len(data) - 600))  # noise
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    try:
        thumbs = api.thumbnails(broken, count=3) + api.thumbnails(broken, keyframes=True)
    except UnsupportedInput as err:
        assert err.details["reason"] in {"corrupt", "unreadable"}
    else:
        assert thumbs and all(t.image.size == (640, 360) for t in thumbs)


def test_no_audio_track(silent: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput) as err:
        api.extract_audio(silent, tmp_path / "a.wav")
    assert err.value.details["reason"] == "no_audio_stream"
    assert not list(tmp_path.iterdir())


def test_limits(talk: Path) -> None:
    info = api.probe(talk)
    api.check_limits(info, max_duration=6.0, max_pixels=640 * 360)
    with pytest.raises(InputTooLarge) as err:
        api.check_limits(info, max_duration=5.0)
    assert err.value.details == {"duration": 6.0, "limit": 5.0}
    with pytest.raises(InputTooLarge, match="640x360"):
        api.check_limits(info, max_pixels=320 * 240)


def test_audio_track_over_limit(talk: Path, tmp_path: Path) -> None:
    with pytest.raises(InputTooLarge):
        api.extract_audio(talk, tmp_path / "a.wav", max_duration=2.0)
    assert not list(tmp_path.iterdir())  # no half-written file left behind


@pytest.mark.parametrize(
    ("getter", "package"),
    [(api.ocr_api, "worker-plugin-ocr"), (api.audio_api, "worker-plugin-audio")],
)
def test_missing_partner_plugin_names_the_package(
    monkeypatch: pytest.MonkeyPatch, getter, package: str
) -> None:
    module = "worker_plugin_ocr" if "ocr" in package else "worker_plugin_audio"
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like
    with pytest.raises(DependencyMissing) as err:
        getter()
    assert f"pip install '{package}" in err.value.message
    assert err.value.code == "DEPENDENCY_MISSING"
