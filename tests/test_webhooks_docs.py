"""The receiver-side verifiers printed in docs/webhooks.md (Python stdlib and Node.js) accept a
real signed delivery and refuse tampered or stale ones."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from jobworker import JobHandler, hookimpl
from jobworker.testing import WorkerHarness
from jobworker.webhooks.signing import signature_header

DOC = Path(__file__).parents[1] / "docs" / "webhooks.md"
SECRET = "whsec-docs-test"

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", Path(__file__).with_name("test_webhooks_receiver.py")
)
_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_receiver)


def code_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    [block] = [b for b in blocks if containing in b]
    return block


async def noop(ctx):
    return {"structured_data": {"ok": True}}


class Source:
    @staticmethod
    @hookimpl
    def register_job_handlers(register):
        register(JobHandler("noop", noop))


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """(headers, body) of one real signed delivery."""
    tmp = tmp_path_factory.mktemp("docs")
    with (
        _receiver.Receiver() as r,
        WorkerHarness(
            tmp, plugins=[Source], settings={"webhook": {"allow_private": ["127.0.0.1/32"]}}
        ) as h,
    ):
        job = h.client.submit("noop", {}, webhook={"url": r.url, "secret": SECRET})
        h.run_burst()
    [request] = r.requests
    assert json.loads(request["body"])["job_id"] == job.job_id
    return request["headers"], request["body"]


def stale(body: bytes) -> str:
    return signature_header(SECRET, body, timestamp=1_000_000_000)


def test_python_stdlib_verifier_from_the_docs(delivered):
    headers, body = delivered
    namespace: dict = {}
    exec(compile(code_block("python", "def verify("), str(DOC), "exec"), namespace)
    verify = namespace["verify"]
    payload = verify(SECRET, headers["Jobworker-Signature"], body)
    assert payload["event"] == "job.completed" and payload["schema_version"] == 1
    for secret, header, data, reason in [
        ("wrong", headers["Jobworker-Signature"], body, "mismatch"),
        (
            SECRET,
            headers["Jobworker-Signature"],
            body.replace(b"completed", b"failed!!!"),
            "mismatch",
        ),
        (SECRET, stale(body), body, "replay window"),
        (SECRET, "v1=00", body, "malformed"),
    ]:
        with pytest.raises(ValueError, match=reason):
            verify(secret, header, data)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_verifier_from_the_docs(delivered, tmp_path):
    headers, body = delivered
    (tmp_path / "verify.js").write_text(code_block("javascript", "function verify("))
    driver = (
        "const {verify} = require('./verify.js');"
        "const fs = require('fs');"
        "const [secret, header, file] = process.argv.slice(1);"
        "try { console.log(JSON.stringify(verify(secret, header, fs.readFileSync(file)))); }"
        "catch (e) { console.log(JSON.stringify({error: e.message})); }"
    )

    def run(secret: str, header: str, data: bytes) -> dict:
        (tmp_path / "body").write_bytes(data)
        out = subprocess.run(
            ["node", "-e", driver, secret, header, str(tmp_path / "body")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(out.stdout)

    good = run(SECRET, headers["Jobworker-Signature"], body)
    assert (
        good["event"] == "job.completed" and good["delivery_id"] == json.loads(body)["delivery_id"]
    )
    assert run("wrong", headers["Jobworker-Signature"], body) == {"error": "signature mismatch"}
    assert run(SECRET, headers["Jobworker-Signature"], body + b" ") == {
        "error": "signature mismatch"
    }
    assert "replay window" in run(SECRET, stale(body), body)["error"]
