"""Where a session's files go: ``<job's output dir>/<event>/<track>/<filename>.md`` and
``.../assets/<filename>/``, every component sanitised (the handler passes ``ctx.output_dir``,
``<output root>/<job id>``, so one job's parameters can never reach another job's files)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import attrs

__all__ = ["SessionPaths", "safe_component", "session_paths"]

_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def safe_component(name: str, *, max_length: int = 120, default: str = "untitled") -> str:
    """One safe path component: no separators, no ``..``, no control or shell-special
    characters, no leading dots, not a reserved Windows name, at most ``max_length`` bytes of
    UTF-8. Letters (umlauts included), digits, spaces, ``-_.,()&+'`` are kept."""
    text = unicodedata.normalize("NFC", str(name))
    text = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|#%{}\[\]$`!;=~^@]+", "_", text)
    text = re.sub(r"\s+", " ", text).strip(" ._")
    text = re.sub(r"_{2,}", "_", re.sub(r"\.{2,}", ".", text))
    while len(text.encode("utf-8")) > max_length:
        text = text[:-1]
    text = text.rstrip(" ._")
    if not text or text.upper().split(".")[0] in _RESERVED:
        text = f"{default}_{text}" if text else default
    return text


@attrs.frozen
class SessionPaths:
    target_dir: Path
    markdown_file: Path
    asset_dir: Path
    archive_file: Path

    @property
    def asset_link(self) -> str:
        """The asset directory relative to the Markdown file (for links)."""
        return self.asset_dir.relative_to(self.target_dir).as_posix()


def session_paths(
    base: Path, event: str, track: str | None, filename: str | None, session: str
) -> SessionPaths:
    """The files of one session under ``base``; ``filename`` defaults to the session title,
    ``.md`` is added unless present; a missing track leaves that directory level out."""
    stem = filename or session
    if stem.lower().endswith(".md"):
        stem = stem[:-3]
    stem = safe_component(stem, default="session")
    target = base / safe_component(event, default="event")
    if track:
        target = target / safe_component(track, default="track")
    return SessionPaths(
        target, target / f"{stem}.md", target / "assets" / stem, target / f"{stem}.zip"
    )
