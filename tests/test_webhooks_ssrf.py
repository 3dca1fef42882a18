"""With the default webhook settings, deliveries to loopback, private and link-local destinations
are refused before any connection, with the reason on the delivery job and in the source job's
logs; a receiver listening on 127.0.0.1 gets nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from jobworker import JobHandler, JobStatus, hookimpl
from jobworker.testing import WorkerHarness

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", Path(__file__).with_name("test_webhooks_receiver.py")
)
_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_receiver)


async def noop(ctx):
    return {"structured_data": {"ok": True}}


class Source:
    @staticmethod
    @hookimpl
    def register_job_handlers(register):
        register(JobHandler("noop", noop))


@pytest.fixture
def receiver():
    with _receiver.Receiver() as r:
        yield r


@pytest.mark.parametrize(
    "host, reason",
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is the link-local cloud metadata address"),
        ("[::1]", "::1 is a loopback address"),
        ("localhost", "localhost resolves to"),
    ],
)
def test_default_config_refuses_non_public_destinations(tmp_path, receiver, host, reason):
    with WorkerHarness(tmp_path, plugins=[Source]) as h:  # no [plugins.webhook] settings
        job = h.client.submit(
            "noop", {}, webhook={"url": f"http://{host}:{receiver.port}/hook", "secret": "s"}
        )
        h.run_burst()
        [delivery] = h.client.list(job_type="webhook")
        source = h.client.get(job.job_id)
        delivery = h.client.get(delivery.job_id)
    assert source.status is JobStatus.COMPLETED  # the job itself is not affected
    assert delivery.status is JobStatus.FAILED and delivery.attempts == 1  # not retried
    assert delivery.error.code == "INPUT_FORBIDDEN"
    assert reason in delivery.error.message
    assert "allow_private" in delivery.error.message
    refused = [e.message for e in source.logs if "refused, not retried" in e.message]
    assert len(refused) == 1 and reason in refused[0] and delivery.job_id in refused[0]
    assert receiver.requests == []


def test_allow_list_opens_exactly_what_it_names(tmp_path, receiver):
    settings = {"webhook": {"allow_private": ["127.0.0.1/32"]}}
    with WorkerHarness(tmp_path, plugins=[Source], settings=settings) as h:
        h.client.submit("noop", {}, webhook={"url": receiver.url})
        h.client.submit("noop", {}, webhook={"url": f"http://10.0.0.1:{receiver.port}/hook"})
        h.run_burst()
        codes = sorted(
            (d.status.value, d.error.code if d.error else None)
            for d in h.client.list(job_type="webhook")
        )
    assert codes == [("completed", None), ("failed", "INPUT_FORBIDDEN")]
    assert len(receiver.requests) == 1
