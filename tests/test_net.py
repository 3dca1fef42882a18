"""jobworker.net against real HTTP servers on 127.0.0.1: the SSRF rules, redirects re-checked,
size limits, timeouts, downloads."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import ipaddress
import socket
import struct
import sys
import threading
import time
import urllib.request

import pytest
from jobworker import InputForbidden, InputNotFound, InputTooLarge
from jobworker.net import NetworkError, address_problem, async_request, download, safe_request

LOCAL = ["127.0.0.1/32"]


class Server:
    """Routes: /ok, /big (1 MB, with Content-Length), /chunked (1 MB, no length), /bomb (gzip of
    50 MB of zeros), /slow (answers after 5 s), /missing (404), /boom (500), /redirect?to=URL,
    /echo-host (the Host header it got)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == "/ok":
                    return self.reply(200, b"hello")
                if path == "/echo-host":
                    return self.reply(200, self.headers["Host"].encode())
                if path == "/big":
                    return self.reply(200, b"x" * 1_000_000)
                if path == "/chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"2710\r\n" + b"y" * 10_000 + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return None
                if path == "/bomb":
                    return self.reply(
                        200, gzip.compress(b"\0" * 50_000_000), {"Content-Encoding": "gzip"}
                    )
                if path == "/slow":
                    server.release.wait(5)
                    return self.reply(200, b"late")
                if path == "/missing":
                    return self.reply(404, b"no")
                if path == "/boom":
                    return self.reply(500, b"err")
                if path == "/redirect":
                    return self.reply(302, b"", {"Location": query.removeprefix("to=")})
                return self.reply(400, b"?")

            do_POST = do_GET  # noqa: N815

            def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        class QuietServer(http.server.ThreadingHTTPServer):
            """Clients that give up (the size and time limits under test) reset their
            connections: expected, not printed. Anything else is kept for the fixture to fail
            on, instead of a traceback in the middle of the test run."""

            def handle_error(self, request: object, client_address: object) -> None:
                error = sys.exc_info()[1]
                if not isinstance(error, (ConnectionResetError, BrokenPipeError)):
                    server.unexpected.append(error)

        self.unexpected: list[BaseException | None] = []
        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()
    assert s.unexpected == []


def test_a_client_resetting_its_connection_prints_nothing(server, capfd):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST: the server's write (or read) fails with a reset
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sendall(b"GET /ok")  # a half request, then a reset while the server reads
    sock.close()
    with urllib.request.urlopen(server.url("/ok"), timeout=10) as answer:
        assert answer.read() == b"hello"  # the server lives on
    time.sleep(0.5)  # the handler threads finish
    assert "Traceback" not in capfd.readouterr().err
    assert server.unexpected == []


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),
        ("::ffff:127.0.0.1", "embedding 127.0.0.1"),
        ("::ffff:10.1.2.3", "embedding 10.1.2.3"),
        ("2002:a9fe:a9fe::1", "embedding 169.254"),
        ("64:ff9b::7f00:1", "embedding 127.0.0.1"),
    ],
)
def test_non_public_addresses_are_named(address, reason):
    assert reason in address_problem(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_refused_by_default_even_though_a_server_listens(server, host):
    with pytest.raises(InputForbidden, match="loopback") as info:
        safe_request("GET", server.url("/ok", host))
    assert info.value.details["reason"] == "a loopback address"
    if host == "localhost":
        assert "localhost resolves to" in info.value.message


def test_allow_list_by_network_or_host_name(server):
    resp = safe_request("GET", server.url("/ok"), allow_private=LOCAL)
    assert (resp.status_code, resp.content, resp.address) == (200, b"hello", "127.0.0.1")
    by_name = safe_request(
        "GET", server.url("/echo-host", "localhost"), allow_private=["localhost"]
    )
    assert by_name.content == f"localhost:{server.port}".encode()  # the name, not the address
    assert ipaddress.ip_address(by_name.address).is_loopback  # ... sent to a checked address
    with pytest.raises(InputForbidden):
        safe_request("GET", server.url("/ok", "localhost"), allow_private=["10.0.0.0/8"])


@pytest.mark.parametrize(
    "url, match",
    [
        ("ftp://example.org/x", "only http and https"),
        ("file:///etc/passwd", "only http"),
        ("http://user:pw@example.org/", "user names and passwords"),
        ("http:///nohost", "no host"),
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]:8080/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
def test_refused_before_any_connection(url, match):
    with pytest.raises(InputForbidden, match=match):
        safe_request("GET", url, timeout=2)


def test_redirects_are_checked_again(server):
    to_meta = server.url("/redirect?to=http://169.254.169.254/latest/meta-data/")
    with pytest.raises(InputForbidden, match="metadata"):
        safe_request("GET", to_meta, allow_private=LOCAL, max_redirects=3)
    hop = safe_request(
        "GET", server.url(f"/redirect?to={server.url('/ok')}"), allow_private=LOCAL, max_redirects=3
    )
    assert (hop.status_code, hop.content, hop.url) == (200, b"hello", server.url("/ok"))
    unfollowed = safe_request("GET", to_meta, allow_private=LOCAL)
    assert unfollowed.status_code == 302
    loop = server.url("/redirect?to=/redirect?to=/ok")
    with pytest.raises(NetworkError, match="more than 1 redirects"):
        safe_request("GET", loop, allow_private=LOCAL, max_redirects=1)


def test_body_limit_raises_or_truncates(server):
    with pytest.raises(InputTooLarge, match="over the limit of 1000 bytes"):
        safe_request("GET", server.url("/big"), allow_private=LOCAL, max_body=1000)
    cut = safe_request(
        "GET", server.url("/chunked"), allow_private=LOCAL, max_body=1000, on_overflow="truncate"
    )
    assert cut.truncated and len(cut.content) == 1000


def test_slow_server_times_out(server):
    with pytest.raises(NetworkError, match="timed out") as info:
        safe_request("GET", server.url("/slow"), allow_private=LOCAL, timeout=0.3)
    assert info.value.retryable


def test_async_request_and_sync_call_inside_a_running_loop(server):
    async def both():
        a = await async_request("POST", server.url("/ok"), allow_private=LOCAL, content="x")
        b = safe_request("GET", server.url("/ok"), allow_private=LOCAL)  # runs in a helper
        with pytest.raises(NetworkError, match="timed out"):
            await async_request("GET", server.url("/slow"), allow_private=LOCAL, timeout=0.3)
        return a.content, b.content

    assert asyncio.run(both()) == (b"hello", b"hello")


def test_connection_refused_is_a_retryable_network_error():
    probe = Server()
    url = probe.url("/ok")
    probe.stop()
    with pytest.raises(NetworkError) as info:
        safe_request("GET", url, allow_private=LOCAL, timeout=2)
    assert info.value.retryable and info.value.code == "NETWORK_ERROR"


def test_download_writes_the_file(server, tmp_path):
    got = download(server.url("/big"), tmp_path / "big.bin", allow_private=LOCAL)
    assert got.size == 1_000_000 == (tmp_path / "big.bin").stat().st_size
    assert not (tmp_path / "big.bin.part").exists()


@pytest.mark.parametrize(
    "path, error, match",
    [
        ("/big", InputTooLarge, "1000000 bytes"),
        ("/chunked", InputTooLarge, "over the limit"),
        ("/bomb", InputTooLarge, "over the limit"),
        ("/missing", InputNotFound, "404"),
        ("/boom", NetworkError, "HTTP 500"),
    ],
)
def test_download_refusals_leave_no_file(server, tmp_path, path, error, match):
    with pytest.raises(error, match=match):
        download(server.url(path), tmp_path / "out", allow_private=LOCAL, max_bytes=100_000)
    assert list(tmp_path.iterdir()) == []


def test_download_allowed_hosts(server, tmp_path):
    with pytest.raises(InputForbidden, match="not in the allowed hosts"):
        download(
            server.url("/ok"), tmp_path / "x", allowed_hosts=["*.example.org"], allow_private=LOCAL
        )
    got = download(
        server.url("/ok", "localhost"),
        tmp_path / "x",
        allowed_hosts=["localhost"],
        allow_private=["localhost"],
    )
    assert got.path.read_bytes() == b"hello"


def test_download_redirect_into_a_private_range_is_refused(server, tmp_path):
    with pytest.raises(InputForbidden, match="private"):
        download(
            server.url("/redirect?to=http://10.0.0.1/file"), tmp_path / "x", allow_private=LOCAL
        )
