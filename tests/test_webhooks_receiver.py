"""A real webhook receiver on 127.0.0.1 (used by the other test_webhooks*.py files), and the tests
of the signature helpers that receivers use."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterable

import pytest
from jobworker import verify_webhook
from jobworker.webhooks.signing import WebhookSignatureError, sign, signature_header
from procs import wait_until  # noqa: F401  (re-exported to the other webhook tests)


class Receiver:
    """An HTTP server answering POSTs by a plan: each entry an int status, or ``("sleep", s)``
    (answer 200 after ``s`` seconds, or as soon as the receiver stops); then ``default``."""

    def __init__(self, plan: Iterable[object] = (), default: int = 200, port: int = 0) -> None:
        self.plan = list(plan)
        self.default = default
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    step = receiver.plan.pop(0) if receiver.plan else receiver.default
                    record = {
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "path": self.path,
                        "status": None,
                    }
                    receiver.requests.append(record)
                receiver.arrived.set()
                status = 200
                if isinstance(step, tuple):
                    receiver.release.wait(step[1])
                else:
                    status = int(step)
                record["status"] = status
                payload = b'{"ok": true}'
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def payloads(self, status: int | None = None) -> list[dict]:
        with self.lock:
            return [
                json.loads(r["body"])
                for r in self.requests
                if status is None or r["status"] == status
            ]

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the signature helpers ------------------------------------------------------------------

BODY = b'{"schema_version":1,"event":"job.completed"}'


def test_verify_accepts_a_fresh_genuine_signature():
    headers = {"jobworker-signature": signature_header("s3cret", BODY)}
    assert verify_webhook("s3cret", headers, BODY)["event"] == "job.completed"
    assert verify_webhook(["old", "s3cret"], list(headers.items()), BODY.decode())


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, BODY) == expected
    assert signature_header("k", BODY, 1700000000) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    "secret, body, header, now, reason",
    [
        ("wrong", BODY, None, None, "mismatch"),
        ("s3cret", BODY + b" ", None, None, "mismatch"),
        ("s3cret", BODY, None, 1700000000 + 301, "tolerance"),
        ("s3cret", BODY, None, 1700000000 - 301, "tolerance"),
        ("s3cret", BODY, "v1=abc", None, "malformed"),
        ("s3cret", BODY, "t=1700000000,v1=\u00e9", None, "mismatch"),
        ("s3cret", BODY, "", None, "no Jobworker-Signature"),
    ],
)
def test_verify_refuses_forged_stale_or_malformed(secret, body, header, now, reason):
    value = signature_header("s3cret", BODY, 1700000000) if header is None else header
    with pytest.raises(WebhookSignatureError, match=reason):
        verify_webhook(
            secret, {"Jobworker-Signature": value}, body, now=now if now is not None else 1700000000
        )


def test_receiver_counts_and_follows_its_plan():
    import httpx

    with Receiver([503, ("sleep", 0.01)]) as r, httpx.Client(trust_env=False) as http:
        codes = [http.post(r.url, content=b"{}").status_code for _ in range(3)]
    assert codes == [503, 200, 200]
    assert [q["status"] for q in r.requests] == [503, 200, 200]
