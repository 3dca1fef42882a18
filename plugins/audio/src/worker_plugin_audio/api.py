"""The public API of worker-plugin-audio, for handlers and for other plugins (video, session).

Everything decodes and encodes with PyAV (FFmpeg libraries inside the wheel, no ``ffmpeg``
binary); pydub's ``AudioSegment`` holds decoded PCM for editing. Bad input raises typed
:class:`jobworker.JobFailure` subclasses, so a handler can let them propagate.

>>> from worker_plugin_audio.api import probe, decode, normalise, export, transcribe
>>> info = probe("talk.m4a")                                    # doctest: +SKIP
>>> audio = normalise(decode("talk.m4a"))                       # doctest: +SKIP
>>> export(audio, "talk.opus", bitrate="48k")                   # doctest: +SKIP
>>> transcribe("talk.m4a", "whisper", {}, language="en")["text"]  # doctest: +SKIP
"""

from __future__ import annotations

from .containers import SINGLE_FILE_FORMATS, open_input
from .decoding import AudioInfo, AudioSegment, decode, probe, resample, segment_from_array
from .editing import (
    Piece,
    frame_levels,
    normalise,
    silent_ranges,
    split_fixed,
    split_on_silence,
    trim,
)
from .encoding import FORMATS, add_audio_stream, convert, export, parse_bitrate
from .subtitles import to_srt, to_vtt, write_subtitles
from .transcription import Transcriber, available_engines, get_engine, transcribe
from .whisper import EXTRA as WHISPER_EXTRA

__all__ = [
    "FORMATS",
    "SINGLE_FILE_FORMATS",
    "WHISPER_EXTRA",
    "AudioInfo",
    "AudioSegment",
    "Piece",
    "Transcriber",
    "add_audio_stream",
    "available_engines",
    "convert",
    "decode",
    "export",
    "frame_levels",
    "get_engine",
    "normalise",
    "open_input",
    "parse_bitrate",
    "probe",
    "resample",
    "segment_from_array",
    "silent_ranges",
    "split_fixed",
    "split_on_silence",
    "to_srt",
    "to_vtt",
    "transcribe",
    "trim",
    "write_subtitles",
]
