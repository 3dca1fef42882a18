"""The public API of worker-plugin-session.

::

    from worker_plugin_session.api import session_paths, safe_component

    paths = session_paths(Path("out"), "FOSS 2024", "Cities", None, "Open data: why?")
    paths.markdown_file   # out/FOSS 2024/Cities/Open data_ why.md
"""

from __future__ import annotations

from .handler import handle_session
from .params import SessionParams
from .paths import SessionPaths, safe_component, session_paths
from .steps import attachments_step, page_step, partner, video_step

__all__ = [
    "SessionParams",
    "SessionPaths",
    "attachments_step",
    "handle_session",
    "page_step",
    "partner",
    "safe_component",
    "session_paths",
    "video_step",
]
