"""An HTTP client that does not reach private networks: for webhooks and for plugins fetching URLs.

Rules, applied to the first request and to every redirect:

* only ``http`` and ``https``; no user name or password in the URL;
* the host is resolved once, every address it resolves to is checked, and the connection goes to a
  checked address (the name is sent as ``Host`` and, for https, as TLS SNI, and the certificate is
  verified for the name), so a DNS answer cannot change between the check and the connect;
* loopback, private (RFC 1918, unique local), link-local (including the cloud metadata address
  169.254.169.254), shared (100.64/10), multicast, reserved and unspecified addresses, and IPv6
  forms that embed such an IPv4 address, are refused unless ``allow_private`` lists the address's
  network (CIDR, e.g. ``"127.0.0.1/32"``) or the URL's host name;
* proxies from the environment are ignored (the connection must go to the checked address);
* every network operation has a timeout and the whole call a deadline; response bodies are read
  up to a limit; compressed bodies are not requested (and are inflated within the limit).

Refusals raise :class:`~jobworker.errors.InputForbidden`, oversized bodies
:class:`~jobworker.errors.InputTooLarge`, network failures :class:`NetworkError` (retryable).

::

    from jobworker.net import download, safe_request

    resp = safe_request("GET", "https://example.org/data.json", max_body=1 << 20)
    resp = await async_request("POST", hook_url, content=body, timeout=10)
    got = download(url, ctx.scratch_dir / "in.pdf", allowed_hosts=["*.example.org"],
                   max_bytes=50 << 20)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs
import httpx

from .errors import InputForbidden, InputNotFound, InputTooLarge, JobFailure

__all__ = [
    "DownloadResult",
    "NetworkError",
    "SafeResponse",
    "address_problem",
    "async_request",
    "display_url",
    "download",
    "safe_request",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SENSITIVE = ("authorization", "proxy-authorization", "cookie", "x-callback-token")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_METADATA = ipaddress.ip_address("169.254.169.254")
T = TypeVar("T")


class NetworkError(JobFailure):
    """The request did not complete: connection refused or reset, timeout, TLS failure..."""

    code = "NETWORK_ERROR"
    retryable = True


@attrs.define
class SafeResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    truncated: bool  #: the body was cut at ``max_body`` (``on_overflow="truncate"``)
    url: str  #: the final URL (after redirects)
    address: str  #: the IP address the connection went to
    elapsed: float


@attrs.define
class DownloadResult:
    path: Path
    size: int
    content_type: str | None
    url: str


def display_url(url: str | httpx.URL) -> str:
    """``url`` without user info, query and fragment: safe to log."""
    try:
        u = httpx.URL(str(url))
        return str(u.copy_with(username=None, password=None, query=None, fragment=None))
    except Exception:
        return "<invalid url>"


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination (``"a loopback address"``...), or ``None``."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped
        if embedded is None:
            embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.teredo is not None:
            embedded = next((a for a in ip.teredo if address_problem(a)), ip.teredo[1])
        if embedded is not None:
            inner = address_problem(embedded)
            return f"an IPv6 address embedding {embedded}, {inner}" if inner else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip == _METADATA, "the link-local cloud metadata address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "a shared (CGNAT) address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a globally routable address"),
    )
    return next((reason for hit, reason in checks if hit), None)


@attrs.define
class _Target:
    url: httpx.URL
    addresses: list[IPAddress]  # every one checked


def _allowed(entries: Sequence[str], host: str, ip: IPAddress) -> bool:
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        try:
            net = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            if entry == host:
                return True
            continue
        candidates = [ip] + (
            [ip.ipv4_mapped] if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else []
        )
        if any(c.version == net.version and c in net for c in candidates):
            return True
    return False


def _host_allowed(host: str, patterns: Sequence[str] | None) -> bool:
    if patterns is None:
        return True
    for pattern in patterns:
        pattern = pattern.strip().lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def _parse(url: str | httpx.URL, allowed_hosts: Sequence[str] | None) -> httpx.URL:
    try:
        u = httpx.URL(str(url))
    except Exception as exc:
        raise InputForbidden(f"invalid URL {str(url)[:200]!r}: {exc}") from None
    shown = display_url(u)
    if u.scheme not in ("http", "https"):
        raise InputForbidden(
            f"refused {shown}: only http and https URLs are allowed",
            details={"url": shown, "reason": "scheme"},
        )
    if not u.host:
        raise InputForbidden(f"refused {shown}: the URL has no host", details={"url": shown})
    if u.userinfo:
        raise InputForbidden(
            f"refused {shown}: user names and passwords in URLs are not allowed (use a header)",
            details={"url": shown},
        )
    if not _host_allowed(_host(u), allowed_hosts):
        raise InputForbidden(
            f"refused {shown}: host {u.host!r} is not in the allowed hosts "
            f"({', '.join(allowed_hosts or [])})",
            details={"url": shown, "reason": "host not allowed"},
        )
    return u


def _host(u: httpx.URL) -> str:
    return u.raw_host.decode("ascii").lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check(u: httpx.URL, infos: list[Any], allow_private: Sequence[str]) -> _Target:
    host, shown = _host(u), display_url(u)
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise InputNotFound(f"{host} did not resolve to any address", details={"url": shown})
    for ip in addresses:
        problem = address_problem(ip)
        if problem and not _allowed(allow_private, host, ip):
            via = "" if _literal(host) == ip else f" resolves to {ip}, which"
            raise InputForbidden(
                f"refused destination {shown}: {host}{via} is {problem}; private, loopback, "
                f"link-local and reserved destinations are refused unless allow_private "
                f"lists them",
                details={"url": shown, "host": host, "address": str(ip), "reason": problem},
            )
    return _Target(u, addresses)


def _port(u: httpx.URL) -> int:
    return u.port or (443 if u.scheme == "https" else 80)


async def _resolve(u: httpx.URL, allow_private: Sequence[str], timeout: float) -> _Target:
    host = _host(u)
    literal = _literal(host)
    if literal is not None:
        return _check(u, [(0, 0, 0, "", (str(literal), 0))], allow_private)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, _port(u), type=socket.SOCK_STREAM), timeout
        )
    except asyncio.TimeoutError:
        raise NetworkError(f"resolving {host} timed out after {timeout} s") from None
    except OSError as exc:
        raise NetworkError(f"cannot resolve {host}: {exc}") from None
    return _check(u, infos, allow_private)


def _request_for(
    client: httpx.AsyncClient,
    method: str,
    u: httpx.URL,
    ip: IPAddress,
    headers: Mapping[str, str] | None,
    content: bytes | None,
) -> httpx.Request:
    """A request to ``ip`` that carries the original host name as Host and TLS SNI."""
    merged = {
        "Accept-Encoding": "identity",
        **dict(headers or {}),
        "Host": u.netloc.decode("ascii"),
    }
    extensions = {"sni_hostname": _host(u)} if u.scheme == "https" else {}
    return client.build_request(
        method, u.copy_with(host=str(ip)), headers=merged, content=content, extensions=extensions
    )


def _network_error(exc: Exception, u: httpx.URL, timeout: float) -> NetworkError:
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"{display_url(u)} timed out after {timeout} s ({type(exc).__name__})")
    return NetworkError(f"{display_url(u)}: {type(exc).__name__}: {exc}")


@contextlib.asynccontextmanager
async def _open(
    method: str,
    url: str,
    *,
    allow_private: Sequence[str],
    allowed_hosts: Sequence[str] | None,
    timeout: float,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    max_redirects: int,
) -> AsyncIterator[tuple[httpx.Response, httpx.URL]]:
    """The checked response (headers read, body not yet), after checked redirects."""
    u = _parse(url, allowed_hosts)
    limits = httpx.Limits(max_keepalive_connections=0)
    for _hop in range(max_redirects + 1):
        target = await _resolve(u, allow_private, timeout)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), trust_env=False, follow_redirects=False, limits=limits
        ) as client:
            resp = None
            for ip in target.addresses:
                try:
                    resp = await client.send(
                        _request_for(client, method, u, ip, headers, content), stream=True
                    )
                    break
                except httpx.ConnectError as exc:  # try the next checked address
                    if ip == target.addresses[-1]:
                        raise _network_error(exc, u, timeout) from None
                except httpx.HTTPError as exc:
                    raise _network_error(exc, u, timeout) from None
            assert resp is not None
            try:
                if max_redirects and resp.status_code in REDIRECTS and "location" in resp.headers:
                    nxt = _parse(u.join(resp.headers["location"]), allowed_hosts)
                    if resp.status_code == 303 or (
                        resp.status_code in (301, 302) and method == "POST"
                    ):
                        method, content = "GET", None
                    if (nxt.scheme, nxt.host, _port(nxt)) != (u.scheme, u.host, _port(u)):
                        headers = {
                            k: v for k, v in (headers or {}).items() if k.lower() not in _SENSITIVE
                        }
                    u = nxt
                    continue
                yield resp, u
                return
            finally:
                await resp.aclose()
    raise NetworkError(
        f"more than {max_redirects} redirects from {display_url(url)}", retryable=False
    )


def _limit_error(limit: int, u: str | httpx.URL, got: int | None = None) -> InputTooLarge:
    size = f"{got} bytes" if got is not None else "more"
    return InputTooLarge(
        f"the response from {display_url(u)} is {size}, over the limit of {limit} bytes",
        details={"url": display_url(u), "limit": limit},
    )


async def _bounded(coro: Awaitable[T], timeout: float, url: str) -> T:
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        raise NetworkError(f"{display_url(url)} timed out after {timeout} s") from None
    except httpx.HTTPError as exc:
        raise _network_error(exc, httpx.URL(url), timeout) from None


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code (in a helper thread if a loop is running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def async_request(
    method: str,
    url: str,
    *,
    allow_private: Sequence[str] = (),
    timeout: float = 10.0,
    max_body: int = 1 << 20,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    max_redirects: int = 0,
    allowed_hosts: Sequence[str] | None = None,
    on_overflow: str = "raise",
) -> SafeResponse:
    """Send one request under the rules of this module and read the response body.

    :param allow_private: CIDRs or host names that may resolve to non-public addresses.
    :param timeout: seconds for each network operation and for the whole call.
    :param max_body: read at most this many body bytes; more raises ``InputTooLarge`` or, with
        ``on_overflow="truncate"``, returns the first ``max_body`` bytes with ``truncated``.
    :param max_redirects: redirects to follow (each checked again); 0 returns the 3xx response.
    :param allowed_hosts: if given, the only host names allowed (``"*.example.org"`` patterns).
    :raises InputForbidden, InputTooLarge, NetworkError:
    """
    body = content.encode() if isinstance(content, str) else content
    started = time.monotonic()

    async def run() -> SafeResponse:
        async with _open(
            method,
            url,
            allow_private=allow_private,
            allowed_hosts=allowed_hosts,
            timeout=timeout,
            headers=headers,
            content=body,
            max_redirects=max_redirects,
        ) as (resp, final):
            data, truncated = bytearray(), False
            async for chunk in resp.aiter_raw():
                data += chunk
                if len(data) > max_body:
                    if on_overflow != "truncate":
                        raise _limit_error(max_body, final)
                    del data[max_body:]
                    truncated = True
                    break
            address = resp.request.url.host
            return SafeResponse(
                resp.status_code,
                resp.headers,
                bytes(data),
                truncated,
                str(final),
                address,
                time.monotonic() - started,
            )

    return await _bounded(run(), timeout, url)


def safe_request(
    method: str,
    url: str,
    *,
    allow_private: Sequence[str] = (),
    timeout: float = 10.0,
    max_body: int = 1 << 20,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    max_redirects: int = 0,
    allowed_hosts: Sequence[str] | None = None,
    on_overflow: str = "raise",
) -> SafeResponse:
    """:func:`async_request` for sync code (handlers in the thread or process executor)."""
    return _run_sync(
        async_request(
            method,
            url,
            allow_private=allow_private,
            timeout=timeout,
            max_body=max_body,
            headers=headers,
            content=content,
            max_redirects=max_redirects,
            allowed_hosts=allowed_hosts,
            on_overflow=on_overflow,
        )
    )


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    allowed_hosts: Sequence[str] | None = None,
    allow_private: Sequence[str] = (),
    max_bytes: int = 100 << 20,
    timeout: float = 30.0,
    max_redirects: int = 5,
    headers: Mapping[str, str] | None = None,
) -> DownloadResult:
    """GET ``url`` into ``dest`` (written to ``dest.part``, renamed when complete).

    ``timeout`` bounds each network operation and, as ``10 * timeout``, the whole download.
    gzip/deflate bodies (sent although not asked for) are decompressed within ``max_bytes``.

    :raises InputForbidden: refused scheme, host or address (also after a redirect).
    :raises InputNotFound: 404 or 410.
    :raises InputTooLarge: more than ``max_bytes`` (declared or received).
    :raises NetworkError: network failure; HTTP 429/5xx (retryable) or another 4xx (not).
    """
    return _run_sync(
        _bounded(
            _download(
                url,
                Path(dest),
                allowed_hosts,
                allow_private,
                max_bytes,
                timeout,
                max_redirects,
                headers,
            ),
            10 * timeout,
            url,
        )
    )


async def _download(
    url: str,
    dest: Path,
    allowed_hosts: Sequence[str] | None,
    allow_private: Sequence[str],
    max_bytes: int,
    timeout: float,
    max_redirects: int,
    headers: Mapping[str, str] | None,
) -> DownloadResult:
    part = dest.with_name(dest.name + ".part")
    async with _open(
        "GET",
        url,
        allow_private=allow_private,
        allowed_hosts=allowed_hosts,
        timeout=timeout,
        headers=headers,
        content=None,
        max_redirects=max_redirects,
    ) as (resp, final):
        shown = display_url(final)
        if resp.status_code in (404, 410):
            raise InputNotFound(f"{shown} answered {resp.status_code}", details={"url": shown})
        if resp.status_code != 200:
            retry = resp.status_code == 429 or resp.status_code >= 500
            raise NetworkError(
                f"{shown} answered HTTP {resp.status_code}",
                retryable=retry,
                details={"url": shown, "status": resp.status_code},
            )
        encoding = resp.headers.get("content-encoding", "identity").lower()
        declared = resp.headers.get("content-length", "")
        if encoding == "identity" and declared.isdigit() and int(declared) > max_bytes:
            raise _limit_error(max_bytes, final, int(declared))
        if encoding not in ("identity", "gzip", "deflate", "x-gzip"):
            raise NetworkError(
                f"{shown} sent an unsupported content encoding {encoding!r}", retryable=False
            )
        inflate = None if encoding == "identity" else zlib.decompressobj(47)
        size = 0
        try:
            with open(part, "wb") as fh:
                async for chunk in resp.aiter_raw():
                    if inflate is not None:
                        chunk = inflate.decompress(chunk, max_bytes + 1 - size)
                        if inflate.unconsumed_tail:
                            raise _limit_error(max_bytes, final)
                    size += len(chunk)
                    if size > max_bytes:
                        raise _limit_error(max_bytes, final)
                    fh.write(chunk)
            os.replace(part, dest)
        except zlib.error as exc:
            raise NetworkError(
                f"{shown}: corrupt {encoding} body: {exc}", retryable=False
            ) from None
        finally:
            with contextlib.suppress(OSError):
                part.unlink()
        return DownloadResult(dest, size, resp.headers.get("content-type"), str(final))
