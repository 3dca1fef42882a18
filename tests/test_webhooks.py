"""Webhooks end to end: a real worker, a real SQLite store and a real HTTP receiver on 127.0.0.1
(allowed through the webhook settings' allow-list)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from pathlib import Path

import attrs
import pytest
from jobworker import InvalidParameters, JobHandler, JobStatus, hookimpl, verify_webhook
from jobworker.testing import WorkerHarness
from jobworker.views import job_view
from jobworker.webhooks.signing import WebhookSignatureError

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", Path(__file__).with_name("test_webhooks_receiver.py")
)
_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_receiver)
Receiver = _receiver.Receiver
_workers: list[threading.Thread] = []


def wait_until(predicate, timeout: float = 30.0):
    """Poll ``predicate``; fail at once if a serving worker thread died."""

    def check():
        dead = [t for t in _workers if not t.is_alive()]
        assert not dead, "the worker thread died (see the thread exception above)"
        return predicate()

    return _receiver.wait_until(check, timeout)


SECRET = "whsec-test-0123456789"


@attrs.define
class HelloParams:
    crash: bool = False
    steps: int = 0
    sleep: float = 0.0


async def hello(ctx):
    for i in range(ctx.params.steps):
        ctx.progress(int(100 * i / ctx.params.steps), "step", f"step {i}")
        await asyncio.sleep(ctx.params.sleep)
    if ctx.params.crash:
        raise RuntimeError("boom in the handler")
    return {"markdown_content": "hello " * 100, "page_texts": ["a.txt", "b.txt"]}


class Source:
    @staticmethod
    @hookimpl
    def register_job_handlers(register):
        register(JobHandler("hello", hello, params=HelloParams, max_attempts=1))


@pytest.fixture
def make_harness(tmp_path):
    made = []

    def make(**webhook_settings) -> WorkerHarness:
        settings = {"allow_private": ["127.0.0.1/32"], **webhook_settings}
        # (short paths: the SQLite store's wake-up socket path must fit in 108 bytes)
        h = WorkerHarness(
            tmp_path / f"{len(made)}" if made else tmp_path,
            plugins=[Source],
            settings={"webhook": settings},
        )
        # Retries after 0.05 s instead of the shipped 5 s, so the tests stay fast.
        h.plugins.handlers["webhook"] = attrs.evolve(h.plugins.handlers["webhook"], backoff=0.05)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@contextlib.contextmanager
def serving(h: WorkerHarness):
    """A long-running worker (not burst: retries scheduled later are picked up) in a thread."""
    worker = h.worker()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(),), daemon=True)
    thread.start()
    _workers.append(thread)
    try:
        yield worker
    finally:
        _workers.remove(thread)
        if thread.is_alive():
            loop.call_soon_threadsafe(worker.request_stop, True)
            thread.join(30)
        loop.close()


def deliveries(h: WorkerHarness):
    return h.client.list(job_type="webhook")


def settled(h: WorkerHarness):
    """All deliveries finished (completed or failed), and at least one exists."""
    jobs = deliveries(h)
    return jobs and all(j.status.terminal for j in jobs) and jobs


def test_completed_event_is_signed_verifiable_and_summarised(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        job = h.client.submit("hello", {}, webhook={"url": r.url, "secret": SECRET})
        wait_until(lambda: r.payloads(200))
        wait_until(lambda: settled(h))
    [request] = r.requests
    payload = verify_webhook(SECRET, request["headers"], request["body"])
    assert payload["schema_version"] == 1
    assert payload["event"] == "job.completed" == request["headers"]["Jobworker-Event"]
    assert payload["delivery_id"] == request["headers"]["Jobworker-Delivery"]
    assert (payload["job_id"], payload["job_type"], payload["status"]) == (
        job.job_id,
        "hello",
        "completed",
    )
    assert payload["progress"]["percent"] == 100 and payload["error"] is None
    assert payload["results"]["keys"] == ["markdown_content", "page_texts"]
    assert payload["results"]["sizes"]["markdown_content"] > 600
    assert payload["results"]["fetch"] == f"jobworker status {job.job_id} --json"
    assert "hello hello" not in request["body"].decode()  # a summary, not the results
    assert payload["completed_at"] and payload["created_at"]
    with pytest.raises(WebhookSignatureError):
        verify_webhook("another-secret", request["headers"], request["body"])
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify_webhook(
            SECRET,
            request["headers"],
            request["body"],
            tolerance=300,
            now=int(request["headers"]["Jobworker-Signature"][2:12]) + 3600,
        )
    [delivery] = deliveries(h)
    assert delivery.job_id == payload["delivery_id"] and delivery.status is JobStatus.COMPLETED
    logs = [e.message for e in h.client.get(job.job_id).logs]
    assert any("webhook job.completed queued" in m for m in logs)
    assert any("delivered (HTTP 200" in m and delivery.job_id in m for m in logs)


def test_failed_event_carries_code_and_message_but_no_traceback(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        job = h.client.submit("hello", {"crash": True}, webhook={"url": r.url, "secret": SECRET})
        wait_until(lambda: r.payloads(200))
    [payload] = r.payloads()
    assert payload["event"] == "job.failed" and payload["status"] == "failed"
    assert payload["error"] == {
        "code": "HANDLER_ERROR",
        "message": "RuntimeError: boom in the handler",
    }
    assert h.client.get(job.job_id).error.details["traceback"]  # stored, but never sent
    assert "Traceback" not in r.requests[0]["body"].decode()
    assert payload["results"] is None


def test_one_event_per_transition_while_the_receiver_fails_first(make_harness):
    h = make_harness()
    with Receiver([503, 429, 200]) as r, serving(h):
        job = h.client.submit("hello", {}, webhook={"url": r.url, "secret": SECRET})
        [delivery] = wait_until(lambda: settled(h))
    assert [q["status"] for q in r.requests] == [503, 429, 200]
    ids = {verify_webhook(SECRET, q["headers"], q["body"])["delivery_id"] for q in r.requests}
    assert ids == {delivery.job_id}  # one delivery, retried: receivers dedupe by its id
    assert [q["headers"]["Jobworker-Delivery-Attempt"] for q in r.requests] == ["1", "2", "3"]
    assert len(r.payloads(200)) == 1
    done = h.client.get(delivery.job_id)
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 3)
    source_logs = [e.message for e in h.client.get(job.job_id).logs]
    assert sum("will retry" in m for m in source_logs) == 2
    assert any("HTTP 503" in m for m in source_logs) and any("HTTP 429" in m for m in source_logs)
    delivery_logs = [e.message for e in done.logs]
    assert any("attempt 3/8" in m and "delivered" in m for m in delivery_logs)


def test_receiver_down_then_up(make_harness):
    h = make_harness()
    probe = Receiver()
    url, port = probe.url, probe.port
    probe.stop()  # nothing listens on the port now: connection refused
    with serving(h):
        h.client.submit("hello", {}, webhook={"url": url, "secret": SECRET})
        wait_until(lambda: (d := deliveries(h)) and d[0].attempts >= 2)
        with Receiver(port=port) as r:
            [delivery] = wait_until(lambda: settled(h))
    assert delivery.status is JobStatus.COMPLETED and delivery.attempts >= 2
    assert len(r.requests) == 1 and r.payloads(200)[0]["delivery_id"] == delivery.job_id
    logs = [e.message for e in h.client.get(delivery.job_id).logs]
    assert any("ConnectError" in m and "will retry" in m for m in logs)


def test_slow_receiver_is_timed_out_and_retried(make_harness):
    h = make_harness(timeout=0.5)
    with Receiver([("sleep", 10)]) as r, serving(h):
        h.client.submit("hello", {}, webhook={"url": r.url, "secret": SECRET})
        [delivery] = wait_until(lambda: settled(h))
        r.release.set()
    assert delivery.status is JobStatus.COMPLETED and delivery.attempts == 2
    logs = [e.message for e in h.client.get(delivery.job_id).logs]
    assert any("timed out after 0.5 s" in m and "will retry" in m for m in logs)
    assert {p["delivery_id"] for p in r.payloads()} == {delivery.job_id}


def test_gives_up_after_max_attempts_and_says_so(make_harness):
    h = make_harness(max_attempts=2)
    with Receiver(default=500) as r, serving(h):
        job = h.client.submit("hello", {}, webhook={"url": r.url, "secret": SECRET})
        [delivery] = wait_until(lambda: settled(h))
    assert len(r.requests) == 2
    assert delivery.status is JobStatus.FAILED
    assert delivery.error.code == "WEBHOOK_DELIVERY_FAILED"
    assert "gave up after 2 attempts" in delivery.error.message
    assert any("gave up after 2 attempts" in e.message for e in h.client.get(job.job_id).logs)


def test_client_errors_are_final_and_redirects_not_followed(make_harness):
    h = make_harness()
    with Receiver([404, 302]) as r, serving(h):
        h.client.submit("hello", {}, webhook={"url": r.url})
        h.client.submit("hello", {}, webhook={"url": r.url})
        jobs = wait_until(lambda: (d := settled(h)) and len(d) == 2 and d)
    assert len(r.requests) == 2
    assert all(j.status is JobStatus.FAILED and j.attempts == 1 for j in jobs)
    messages = sorted(j.error.message for j in jobs)
    assert "HTTP 302" in messages[0] + messages[1] and "do not follow redirects" in "".join(
        messages
    )
    assert any("HTTP 404" in m for m in messages)


def test_batch_finished_is_sent_once_after_the_last_job(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        batch = h.client.submit_batch(
            [{"job_type": "hello", "parameters": {"crash": i == 1}} for i in range(3)],
            webhook={"url": r.url, "secret": SECRET, "events": ["batch.finished"]},
        )
        wait_until(lambda: r.payloads(200))
        wait_until(lambda: settled(h))
    [payload] = r.payloads()
    assert payload["event"] == "batch.finished" and payload["batch_id"] == batch.batch_id
    counters = payload["batch"]
    assert (counters["total_jobs"], counters["completed_jobs"], counters["failed_jobs"]) == (
        3,
        2,
        1,
    )
    assert (counters["pending_jobs"], counters["processing_jobs"]) == (0, 0)
    jobs = h.client.list(batch_id=batch.batch_id)
    assert all(
        j.completed_at.isoformat().replace("+00:00", "Z") <= payload["completed_at"] for j in jobs
    )


def test_batch_webhook_can_ask_for_every_job(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        h.client.submit_batch(
            [{"job_type": "hello"}] * 2,
            webhook={"url": r.url, "events": ["completed", "batch.finished"]},
        )
        wait_until(lambda: len(r.payloads(200)) == 3)
        wait_until(lambda: settled(h))
    events = sorted(p["event"] for p in r.payloads())
    assert events == ["batch.finished", "job.completed", "job.completed"]
    assert all(p["batch"]["total_jobs"] == 2 for p in r.payloads())


def test_legacy_token_and_job_id_are_honoured(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        new = h.client.submit(
            "hello", {"webhook": {"url": r.url, "token": "s3cr3t", "jobId": "ext-42"}}
        )
        h.store.import_documents(
            [
                {  # an old document: the webhook in parameters.extra
                    "job_id": "job-legacy-1",
                    "job_type": "hello",
                    "status": "pending",
                    "created_at": new.created_at,
                    "updated_at": new.created_at,
                    "parameters": {
                        "extra": {"webhook": {"url": r.url, "token": "old-token", "jobId": "ext-7"}}
                    },
                }
            ]
        )
        wait_until(lambda: len(r.payloads(200)) == 2)
    by_id = {p["job_id"]: (p, q["headers"]) for p, q in zip(r.payloads(), r.requests, strict=True)}
    payload, headers = by_id[new.job_id]
    assert payload["external_id"] == "ext-42"
    assert headers["Authorization"] == "Bearer s3cr3t" and headers["X-Callback-Token"] == "s3cr3t"
    payload, headers = by_id["job-legacy-1"]
    assert payload["external_id"] == "ext-7" and headers["X-Callback-Token"] == "old-token"
    assert "Jobworker-Signature" not in headers  # no secret anywhere: sent unsigned, and logged
    assert "s3cr3t" not in str(payload)


def test_secrets_and_tokens_are_not_shown_by_views(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        job = h.client.submit(
            "hello", {}, webhook={"url": r.url, "secret": SECRET, "token": "tok-123"}
        )
        [delivery] = wait_until(lambda: settled(h))
    for shown in (job_view(h.client.get(job.job_id)), job_view(h.client.get(delivery.job_id))):
        text = str(shown)
        assert SECRET not in text and "tok-123" not in text
        assert "***" in text
    logs = " ".join(e.message for j in (job, delivery) for e in h.client.get(j.job_id).logs)
    assert SECRET not in logs and "tok-123" not in logs


def test_progress_events_only_when_asked_and_rate_limited(make_harness):
    h = make_harness()
    with Receiver() as r, serving(h):
        h.client.submit(
            "hello",
            {"steps": 20, "sleep": 0.03},
            webhook={"url": r.url, "events": ["progress", "completed"]},
        )
        h.client.submit("hello", {"steps": 20, "sleep": 0.03}, webhook={"url": r.url})
        wait_until(lambda: len(r.payloads(200)) >= 3)
        wait_until(lambda: settled(h))
    events = [p["event"] for p in r.payloads()]
    progress = [p for p in r.payloads() if p["event"] == "job.progress"]
    assert events.count("job.completed") == 2
    assert 1 <= len(progress) < 20  # far fewer than the 20 progress reports
    assert {p["status"] for p in progress} == {"processing"}
    assert all(0 <= p["progress"]["percent"] <= 100 and p["completed_at"] is None for p in progress)


def test_deliveries_cannot_be_submitted_by_clients(make_harness):
    h = make_harness()
    with Receiver() as r:
        job = h.client.submit(
            "webhook",
            {
                "url": r.url,
                "event": "job.completed",
                "payload": {"forged": True},
                "delivery_id": "x",
            },
        )
        h.run_burst()
    done = h.client.get(job.job_id)
    assert done.status is JobStatus.FAILED and done.error.code == "INPUT_FORBIDDEN"
    assert "cannot be submitted" in done.error.message
    assert r.requests == []


@pytest.mark.parametrize(
    "webhook, match",
    [
        ({"url": "ftp://example.org/x"}, "http or https"),
        ({"url": "https://user:pw@example.org/x"}, "user name"),
        ({"url": "https://example.org/x", "events": ["finished"]}, "unknown webhook event"),
        ({"url": "https://example.org/x", "secrte": "typo"}, "unknown webhook key"),
        ({"secret": "x"}, "url is required"),
    ],
)
def test_bad_webhook_config_is_refused_at_submit(make_harness, webhook, match):
    h = make_harness()
    with pytest.raises(InvalidParameters, match=match):
        h.client.submit("hello", {}, webhook=webhook)
    with pytest.raises(InvalidParameters, match=r"batch\.finished"):
        h.client.submit_batch(
            [{"job_type": "hello"}], webhook={"url": "https://x.org", "events": ["progress"]}
        )
    with pytest.raises(InvalidParameters, match="http or https"):
        h.client.submit("hello", {"webhook": {"url": "file:///etc/passwd"}})
    assert h.client.list() == []


def test_cancelled_pending_job_reports_failure(make_harness):
    h = make_harness()
    with Receiver() as r:
        job = h.client.submit("hello", {}, delay=3600, webhook={"url": r.url, "secret": SECRET})
        h.client.cancel(job.job_id)  # the hook runs in this (the client's) process
        h.run_burst()
    [payload] = r.payloads(200)
    assert (payload["event"], payload["job_id"]) == ("job.failed", job.job_id)
    assert payload["error"]["code"] == "CANCELLED"
