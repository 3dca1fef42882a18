"""Opening a media file for reading: the one place where audio, video and session jobs let
FFmpeg at a user's file.

Only single-file container formats are read. FFmpeg can also open *playlists* (HLS ``.m3u8``,
DASH manifests), *concat lists* (``ffconcat``), image sequences and network descriptions
(SDP, RTSP), each of which makes FFmpeg open further files or URLs named inside the input,
outside the input roots the worker checked. :func:`open_input` therefore passes FFmpeg's
``format_whitelist`` (only the demuxers in :data:`SINGLE_FILE_FORMATS`) and
``protocol_whitelist=file``; anything else is refused with :class:`~jobworker.UnsupportedInput`
(``details["reason"] == "format_not_allowed"`` when the file is a recognisable playlist or list).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from jobworker import UnsupportedInput

__all__ = ["SINGLE_FILE_FORMATS", "open_input"]

PathLike = str | os.PathLike[str]

#: FFmpeg demuxers that read one file and nothing else (names as FFmpeg gives them; ``mov``
#: covers mp4/m4a/3gp, ``matroska`` covers webm, ``ogg`` covers opus/oga/ogv). Still-image
#: demuxers are here so the video plugin can refuse a picture with its own clear message.
SINGLE_FILE_FORMATS: tuple[str, ...] = (
    # audio
    "wav",
    "w64",
    "mp3",
    "flac",
    "ogg",
    "aac",
    "aiff",
    "caf",
    "wv",
    "tta",
    "ac3",
    "eac3",
    "au",
    # audio and video containers
    "mov",
    "matroska",
    "webm",
    "asf",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "nut",
    "ivf",
    # single pictures (refused later as "not audio" / "still image")
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "gif",
)

_OPTIONS = {"format_whitelist": ",".join(SINGLE_FILE_FORMATS), "protocol_whitelist": "file"}

# What a refused file most likely is, from its first bytes (for the message only).
_SIGNATURES = (
    (b"#EXTM3U", "is an HLS/M3U playlist"),
    (b"ffconcat", "is an FFmpeg concat list"),
    (b"<?xml", "is an XML manifest (DASH or similar)"),
    (b"<MPD", "is a DASH manifest"),
    (b"v=0", "is an SDP session description"),
)


@contextmanager
def open_input(path: PathLike, what: str = "a media file") -> Iterator[InputContainer]:
    """Open ``path`` with PyAV for reading, allowing only :data:`SINGLE_FILE_FORMATS`.

    :param what: how the message names what was expected (``"a video"``).
    :raises UnsupportedInput: not a regular file, empty, a playlist/list/manifest or any format
        outside the allow-list, or a file FFmpeg cannot read.
    """
    p = Path(path)
    if not p.is_file():
        raise UnsupportedInput(f"{p.name}: not a regular file", details={"path": str(p)})
    if p.stat().st_size == 0:
        raise UnsupportedInput(
            f"{p.name} is empty (0 bytes)", details={"path": str(p), "reason": "empty"}
        )
    listed = _list_kind(p)
    if listed is not None:
        raise _not_allowed(p, listed)
    try:
        container = av.open(
            str(p.absolute()), container_options=dict(_OPTIONS), metadata_errors="ignore"
        )
    except av.error.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.EINVAL:  # the probed demuxer is not allowed
            raise _not_allowed(p, "is not in one of the allowed formats") from None
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UnsupportedInput(
            f"{p.name} is not {what} FFmpeg can read, or it is corrupt ({reason})",
            details={"path": str(p), "reason": "unreadable"},
        ) from None
    try:
        yield container
    finally:
        container.close()


def _list_kind(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def _not_allowed(path: Path, kind: str) -> UnsupportedInput:
    return UnsupportedInput(
        f"{path.name} {kind}; only single-file media containers are read (playlists, "
        "concat lists and formats that open other files or URLs are refused)",
        details={
            "path": str(path),
            "reason": "format_not_allowed",
            "allowed": list(SINGLE_FILE_FORMATS),
        },
    )
