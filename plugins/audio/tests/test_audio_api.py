"""The public API on generated audio: probe, decode, export/convert, editing, subtitles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jobworker import InvalidParameters
from worker_plugin_audio import api
from worker_plugin_audio.testing import silence, tone, tone_sequence, word_error_rate


@pytest.mark.parametrize("fmt", sorted(api.FORMATS))
def test_export_then_probe_and_decode_each_format(tmp_path: Path, fmt: str) -> None:
    seg = tone(2.0, channels=2)
    path = api.export(seg, tmp_path / f"tone.{fmt}", bitrate="96k")
    assert path.suffix == api.FORMATS[fmt].suffix or path.suffix == f".{fmt}"
    info = api.probe(path)
    assert info.channels == 2
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.has_video is False
    decoded = api.decode(path)
    assert decoded.channels == 2
    assert len(decoded) / 1000 == pytest.approx(2.0, abs=0.1)
    assert decoded.dBFS == pytest.approx(seg.dBFS, abs=1.5)  # the tone survived encoding


def test_wav_round_trip_is_lossless(tmp_path: Path) -> None:
    seg = tone_sequence([("tone", 0.3), ("silence", 0.2)], channels=2)
    back = api.decode(api.export(seg, tmp_path / "x.wav"))
    assert back.raw_data == seg.raw_data


def test_decode_resamples_and_downmixes(tones: Path) -> None:
    seg = api.decode(tones, sample_rate=16000, channels=1)
    assert (seg.frame_rate, seg.channels, seg.sample_width) == (16000, 1, 2)
    assert len(seg) == pytest.approx(5300, abs=20)


def test_convert_sets_rate_channels_and_bitrate(tones: Path, tmp_path: Path) -> None:
    small = api.convert(tones, tmp_path / "small.mp3", bitrate="32k", sample_rate=22050, channels=1)
    large = api.convert(tones, tmp_path / "large.mp3", bitrate="192k")
    info = api.probe(small)
    assert (info.codec.startswith("mp3"), info.sample_rate, info.channels) == (True, 22050, 1)
    assert small.stat().st_size < large.stat().st_size / 3
    opus = api.probe(api.convert(tones, tmp_path / "x.opus", sample_rate=44100))
    assert opus.sample_rate == 48000  # raised to a rate Opus supports


@pytest.mark.parametrize(
    ("text", "bits"),
    [("128k", 128000), ("1.5M", 1_500_000), ("96000", 96000), (64000, 64000), (None, None)],
)
def test_parse_bitrate(text: str | int | None, bits: int | None) -> None:
    assert api.parse_bitrate(text) == bits


@pytest.mark.parametrize("text", ["fast", "12", "9M", "-5k"])
def test_parse_bitrate_refuses_nonsense(text: str) -> None:
    with pytest.raises(InvalidParameters):
        api.parse_bitrate(text)


def test_export_refuses_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameters, match="unknown audio format"):
        api.export(tone(0.1), tmp_path / "x.xyz")


def test_normalise_reaches_target_without_clipping() -> None:
    quiet = tone(1.0, dbfs=-40)
    loud = api.normalise(quiet, -20.0)
    assert loud.dBFS == pytest.approx(-20.0, abs=0.2)
    limited = api.normalise(quiet, -1.0, peak_limit_dbfs=-6.0)
    assert limited.max_dBFS == pytest.approx(-6.0, abs=0.2)
    still = silence(1.0)
    assert api.normalise(still).raw_data == still.raw_data


def test_trim_ranges() -> None:
    seg = tone(4.0)
    assert len(api.trim(seg, 1.0, 2.5)) == 1500
    assert len(api.trim(seg, -1.0)) == 1000
    assert len(api.trim(seg, None, -1.0)) == 3000
    assert len(api.trim(seg, 3.0, 99)) == 1000
    for start, end in [(5.0, None), (2.0, 1.0), (1.0, 1.0)]:
        with pytest.raises(InvalidParameters, match="empty"):
            api.trim(seg, start, end)


def test_split_fixed() -> None:
    pieces = api.split_fixed(tone(5.5), 2.0)
    assert [(p.start, p.end) for p in pieces] == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.5)]
    assert [len(p.audio) for p in pieces] == [2000, 2000, 1500]


def test_split_on_silence_finds_the_three_tones(tones: Path) -> None:
    seg = api.decode(tones)
    assert api.silent_ranges(seg) == [(1000, 2000), (2500, 3300)]
    pieces = api.split_on_silence(seg, min_silence_ms=500, keep_silence_ms=100)
    assert [(p.start, p.end) for p in pieces] == [(0.0, 1.1), (1.9, 2.6), (3.2, 5.3)]
    assert api.split_on_silence(seg, min_silence_ms=900, keep_silence_ms=0)[0].end == 1.0
    assert api.split_on_silence(silence(2.0)) == []


def test_frame_levels_tell_tone_from_silence() -> None:
    levels = api.frame_levels(tone_sequence([("tone", 0.1), ("silence", 0.1)]))
    assert len(levels) == 20
    assert np.all(levels[:10] > -20) and np.all(np.isneginf(levels[10:]))


def test_subtitles() -> None:
    segments = [
        {"start": 0.0, "end": 1.25, "text": " Hello  world "},
        {"start": 3661.5, "end": 3662.0, "text": "a --> b"},
        {"start": 5.0, "end": 6.0, "text": "  "},
    ]
    assert api.to_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello world\n\n"
        "2\n01:01:01,500 --> 01:01:02,000\na --> b\n"
    )
    vtt = api.to_vtt(segments)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello world\n")
    assert "01:01:01.500 --> 01:01:02.000\na -> b\n" in vtt


def test_word_error_rate() -> None:
    assert word_error_rate("Open the door.", "open the door") == 0
    assert word_error_rate("open the door now", "open a door") == 0.5
    assert word_error_rate("", "") == 0
