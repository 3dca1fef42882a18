"""Getting an input by URL or path: http(s) through :mod:`jobworker.net`, or a local file under
the input roots. Nothing else (no ``ftp:``, ``data:``, ``gopher:``...).

URLs are fetched only from hosts on the allow-list (``allowed_hosts`` in the job type's
settings; ``["*"]`` means any public host), with a size limit and time limits; private,
loopback and link-local destinations stay refused unless ``allow_private`` lists them
(``jobworker.net`` checks the resolved address, redirects included). Used by this plugin's
``url`` input and by worker-plugin-session for pages, videos and attachments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs
from jobworker import InputForbidden, InputTooLarge

__all__ = ["FetchPolicy", "Fetched", "fetch", "is_url", "read_text"]


DEFAULT_MAX_BYTES = 100 << 20
DEFAULT_TIMEOUT = 30.0


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


@attrs.frozen
class FetchPolicy:
    """What may be fetched.

    :param allowed_hosts: host names (``"*.example.org"`` patterns) URLs may point at; empty
        refuses every URL, ``("*",)`` allows any public host.
    :param allow_private: CIDRs or host names that may resolve to private/loopback addresses.
    :param max_bytes: largest download (and largest local file) in bytes.
    :param timeout: seconds per network operation (the whole download gets ten times this).
    """

    allowed_hosts: tuple[str, ...] = ()
    allow_private: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any] | None, *, max_bytes_key: str = "max_download_bytes"
    ) -> FetchPolicy:
        s = dict(settings or {})
        return cls(
            allowed_hosts=_strings(s.get("allowed_hosts")),
            allow_private=_strings(s.get("allow_private")),
            max_bytes=int(s.get(max_bytes_key, DEFAULT_MAX_BYTES)),
            timeout=float(s.get("fetch_timeout", DEFAULT_TIMEOUT)),
        )


@attrs.frozen
class Fetched:
    path: Path
    source: str  #: the URL or path as given
    remote: bool  #: downloaded (``path`` is in the destination directory) or a local file
    content_type: str | None = None
    size: int = 0
    url: str | None = None  #: the final URL after redirects


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_url(source: str) -> bool:
    """True for ``scheme:...`` strings (except a Windows drive letter like ``C:\\``)."""
    return bool(_SCHEME.match(source)) and not re.match(r"^[a-zA-Z]:[\\/]", source)


def _safe_name(url: str, default: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:100]
    return name or default


def fetch(
    source: str,
    dest_dir: Path,
    policy: FetchPolicy,
    resolve_input: Callable[[str], Path],
    *,
    default_name: str = "download",
) -> Fetched:
    """Fetch ``source`` (an http(s) URL, a ``file:`` URL or a path) and return where it is.

    Local files are not copied: ``path`` is the resolved file under the input roots.

    :raises InputForbidden: another scheme, a host not allowed, a path outside the input roots.
    :raises InputNotFound: 404/410 or no such file.
    :raises InputTooLarge: over ``policy.max_bytes``.
    :raises jobworker.net.NetworkError: a network failure (retryable) or an HTTP error.
    """
    source = str(source).strip()
    if not is_url(source) or source.lower().startswith("file:"):
        raw = unquote(urlsplit(source).path) if source.lower().startswith("file:") else source
        path = resolve_input(raw)
        size = path.stat().st_size
        if size > policy.max_bytes:
            raise InputTooLarge(
                f"{raw} is {size} bytes, over the limit of {policy.max_bytes}",
                details={"path": raw, "limit": policy.max_bytes},
            )
        return Fetched(path, source, remote=False, size=size)
    scheme = source.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise InputForbidden(
            f"refused {scheme}: URL: only http(s) URLs and files under the input roots can be read",
            details={"scheme": scheme},
        )
    if not policy.allowed_hosts:
        raise InputForbidden(
            "fetching URLs is not enabled: list the hosts allowed in the settings (allowed_hosts)",
            details={"reason": "no allowed_hosts"},
        )
    from jobworker import download

    hosts = None if "*" in policy.allowed_hosts else list(policy.allowed_hosts)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / _safe_name(source, default_name)
    got = download(
        source,
        dest,
        allowed_hosts=hosts,
        allow_private=list(policy.allow_private),
        max_bytes=policy.max_bytes,
        timeout=policy.timeout,
    )
    return Fetched(
        got.path, source, remote=True, content_type=got.content_type, size=got.size, url=got.url
    )


def read_text(data: bytes, content_type: str | None = None) -> str:
    """Decode text bytes: the charset of ``content_type``, a BOM, UTF-8, else Latin-1."""
    charset = None
    if content_type:
        match = re.search(r"charset=([\w.:-]+)", content_type, re.I)
        charset = match.group(1) if match else None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    for encoding in filter(None, (charset, "utf-8")):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")
