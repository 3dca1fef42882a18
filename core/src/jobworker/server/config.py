"""The server's settings (``jobworker serve`` options; see docs/server.md)."""

from __future__ import annotations

from pathlib import Path

import attrs

__all__ = ["ServerConfig"]


@attrs.define
class ServerConfig:
    """:param host: address to bind; ``127.0.0.1`` unless told otherwise.
    :param legacy_key: the old system's single shared key (``SECRETARY_SERVICE_API_KEY``),
        accepted as one key named ``legacy`` with ``legacy_scopes``. ``None``: not accepted.
    :param max_body_bytes: larger requests are refused with 413 (uploads included).
    :param rate_per_second: requests per second per key (a token bucket of ``rate_burst``);
        0 switches rate limiting off.
    :param cors_origins: origins allowed by CORS; empty means no CORS headers at all.
    :param upload_root: an input root; an uploaded file goes to ``<upload_root>/<job_id>/``.
    :param output_root: the workers' output root; a job's downloadable result files are the
        files under ``<output_root>/<job_id>/``.
    :param poll_seconds: how often live views re-read when the store cannot announce
        changes (MongoDB without change streams); one shared loop, never one per client.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    legacy_key: str | None = None
    legacy_scopes: tuple[str, ...] = ("submit", "read")
    max_body_bytes: int = 100 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    rate_per_second: float = 50.0
    rate_burst: int = 200
    cors_origins: tuple[str, ...] = ()
    upload_root: Path = attrs.Factory(lambda: Path.cwd() / "jobworker-uploads")
    output_root: Path = attrs.Factory(lambda: Path.cwd() / "jobworker-output")
    poll_seconds: float = 1.0
    allow_unknown_type: bool = False
