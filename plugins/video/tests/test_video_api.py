"""The public API on generated videos: probe, thumbnails, audio extraction, slide OCR."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobworker import InvalidParameters
from PIL import Image
from worker_plugin_video import api
from worker_plugin_video.testing import TALK_SLIDES


def test_probe_talk(talk: Path) -> None:
    info = api.probe(talk)
    assert (info.width, info.height, info.fps) == (640, 360, 10.0)
    assert (info.video_codec, info.audio_codec, info.has_audio) == ("h264", "aac", True)
    assert info.duration == pytest.approx(6.0)
    assert [s.type for s in info.streams] == ["video", "audio"]
    assert info.streams[1].sample_rate == 22050 and info.streams[1].channels == 1
    as_dict = info.as_dict()
    assert as_dict["streams"][0]["width"] == 640 and isinstance(as_dict["streams"], list)


def test_probe_silent_mkv(silent: Path) -> None:
    info = api.probe(silent)
    assert (info.container, info.video_codec, info.has_audio) == ("matroska,webm", "mpeg4", False)
    assert info.audio_codec is None and info.fps == 12.0
    assert info.duration == pytest.approx(4.0, abs=0.1)


def test_thumbnails_evenly_spaced(talk: Path) -> None:
    thumbs = api.thumbnails(talk, count=3, width=160)
    assert [t.time for t in thumbs] == [1.0, 3.0, 5.0]
    assert all(t.image.size == (160, 90) for t in thumbs)


def test_thumbnails_at_times_show_the_right_slide(talk: Path) -> None:
    thumbs = api.thumbnails(talk, at=[4.2, 0.3, 2.5, 60.0])
    assert [t.requested for t in thumbs] == [0.3, 2.5, 4.2, 60.0]
    assert [t.time for t in thumbs][:3] == [0.3, 2.5, 4.2]
    assert thumbs[-1].time == pytest.approx(5.9)  # past the end: the last frame
    # each slide has its own background colour (see testing.slide_image)
    colours = [t.image.getpixel((5, 100)) for t in thumbs]
    assert colours[0] != colours[1] != colours[2]
    assert colours[2] == colours[3]


def test_keyframes_are_the_slide_starts(talk: Path, silent: Path) -> None:
    assert [t.time for t in api.thumbnails(talk, keyframes=True)] == [0.0, 2.0, 4.0]
    assert all(t.keyframe for t in api.iter_keyframes(talk))
    assert len(api.thumbnails(talk, keyframes=True, limit=2)) == 2
    assert len(api.thumbnails(silent, keyframes=True)) >= 2


def test_thumbnails_needs_exactly_one_rule(talk: Path) -> None:
    for kwargs in ({}, {"count": 2, "keyframes": True}, {"at": [1.0], "count": 1}):
        with pytest.raises(InvalidParameters, match="exactly one"):
            api.thumbnails(talk, **kwargs)
    with pytest.raises(InvalidParameters, match="limit"):
        api.thumbnails(talk, count=20, limit=10)


@pytest.mark.parametrize(
    ("fmt", "suffix", "pil"), [("png", ".png", "PNG"), ("jpg", ".jpg", "JPEG")]
)
def test_save_thumbnails(talk: Path, tmp_path: Path, fmt: str, suffix: str, pil: str) -> None:
    saved = api.save_thumbnails(api.thumbnails(talk, count=2, width=320), tmp_path, fmt)
    assert [Path(s["path"]).name for s in saved] == [f"thumb-0001{suffix}", f"thumb-0002{suffix}"]
    with Image.open(saved[0]["path"]) as img:
        assert (img.format, img.size) == (pil, (320, 180))
    assert saved[1]["time"] == 4.5


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"), [("wav", "pcm_s16le", 22050), ("opus", "opus", 48000)]
)
def test_extract_audio(talk: Path, tmp_path: Path, fmt: str, codec: str, rate: int) -> None:
    from worker_plugin_audio.api import probe as probe_audio

    track = api.extract_audio(talk, tmp_path / f"a.{fmt}", fmt)
    info = probe_audio(track["path"])
    assert (info.codec, info.sample_rate, info.channels, info.has_video) == (codec, rate, 1, False)
    assert info.duration == pytest.approx(5.1, abs=0.1)
    assert track["duration"] == pytest.approx(info.duration, abs=0.05)
    assert not list(tmp_path.glob("*.part"))


def test_slide_texts_from_keyframes(talk: Path) -> None:
    pytest.importorskip("worker_plugin_ocr", reason="needs worker-plugin-ocr")
    slides = api.slide_texts(api.iter_keyframes(talk), "eng")
    assert [s["text"] for s in slides] == list(TALK_SLIDES)
    assert [s["time"] for s in slides] == [0.0, 2.0, 4.0]
    # the same slide seen twice is one slide
    frames = list(api.iter_frames_at(talk, [0.2, 0.8, 2.5]))
    assert [(s["text"], s["frames"]) for s in api.slide_texts(frames)] == [
        ("Hello World", 2),
        ("Second Slide", 1),
    ]
