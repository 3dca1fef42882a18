"""The parameters of a ``session`` job, exactly as legacy session jobs store them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["SessionParams"]


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _speakers(value: Any) -> list[str]:
    """A list of names; a comma-separated string or ``[{"name": ...}]`` are accepted too."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    names = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("name") or item.get("title") or ""
        if str(item).strip():
            names.append(str(item).strip())
    return names


def _urls(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [u for u in value.replace(",", " ").split() if u]
    return [str(u).strip() for u in value if str(u).strip()]


def _required(_inst: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if not value:
        raise ValueError(f"{attribute.name} is required for session jobs")


def _context(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("context must be an object or a JSON object string") from None
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"context must be an object, not {type(value).__name__}")
    return dict(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


@attrs.define
class SessionParams:
    """Legacy ``JobParameters`` of session jobs (``extra.create_archive`` included).

    ``attachments_url`` may hold several URLs separated by spaces or commas.
    """

    event: str | None = attrs.field(default=None, converter=_optional_str, validator=_required)
    session: str | None = attrs.field(default=None, converter=_optional_str, validator=_required)
    url: str | None = attrs.field(default=None, converter=_optional_str)
    filename: str | None = attrs.field(default=None, converter=_optional_str)
    track: str | None = attrs.field(default=None, converter=_optional_str)
    day: str | None = attrs.field(default=None, converter=_optional_str)
    starttime: str | None = attrs.field(default=None, converter=_optional_str)
    endtime: str | None = attrs.field(default=None, converter=_optional_str)
    speakers: Any = attrs.field(factory=list, converter=_speakers)
    video_url: str | None = attrs.field(default=None, converter=_optional_str)
    attachments_url: str | None = attrs.field(default=None, converter=_optional_str)
    source_language: str | None = attrs.field(default="en", converter=_optional_str)
    target_language: str | None = attrs.field(default="de", converter=_optional_str)
    template: str | None = attrs.field(default="Session", converter=_optional_str)
    use_cache: Any = attrs.field(default=True, converter=_bool)
    create_archive: Any = attrs.field(default=True, converter=_bool)
    context: Any = attrs.field(default=None, converter=_context)
    container_selector: str | None = attrs.field(default=None, converter=_optional_str)
    # Read by the old processor as attributes, hence always empty there; accepted and passed on.
    speakers_url: str | None = attrs.field(default=None, converter=_optional_str)
    speakers_image_url: str | None = attrs.field(default=None, converter=_optional_str)

    @property
    def attachment_urls(self) -> list[str]:
        return _urls(self.attachments_url)

    @property
    def template_name(self) -> str:
        return self.template or "Session"

    def metadata(self) -> dict[str, Any]:
        """The session's descriptive fields (the legacy ``results.context``)."""
        return {
            "event": self.event,
            "session": self.session,
            "track": self.track,
            "day": self.day,
            "starttime": self.starttime,
            "endtime": self.endtime,
            "speakers": list(self.speakers),
            "url": self.url,
            "video_url": self.video_url,
            "attachments_url": self.attachments_url,
            "filename": self.filename,
            "source_language": self.source_language,
            "target_language": self.target_language,
            "template": self.template_name,
        }
