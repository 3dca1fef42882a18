"""A worker process SIGKILLed while it is sending a webhook: the delivery is recorded in the store,
so after its lease expires another worker process sends it."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from jobworker import JobStatus, connect
from jobworker.testing import make_plugins

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", Path(__file__).with_name("test_webhooks_receiver.py")
)
_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_receiver)
Receiver, wait_until = _receiver.Receiver, _receiver.wait_until

SUPPORT = Path(__file__).parent / "support"  # testjobs: the core tests' job types


def jobworker(db: Path, config: Path, *args: str) -> subprocess.Popen:
    path = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "JOBWORKER_PLUGINS": "",
        "JOBWORKER_CONFIG": str(config),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobworker",
            "--store",
            f"sqlite:///{db}",
            "--plugin",
            "testjobs",
            *args,
        ],
        env=env,
        cwd=db.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_delivery_survives_a_sigkilled_worker(tmp_path):
    db, config = tmp_path / "jobs.db", tmp_path / "jobworker.toml"
    config.write_text('[plugins.webhook]\nallow_private = ["127.0.0.1/32"]\ntimeout = 60\n')
    sys.path.insert(0, str(SUPPORT))
    try:
        import testjobs
    finally:
        sys.path.remove(str(SUPPORT))
    with (
        Receiver([("sleep", 120)]) as r,
        connect(f"sqlite:///{db}", plugins=make_plugins([testjobs])) as client,
    ):
        job = client.submit("async", {}, webhook={"url": r.url, "secret": "s3cret"})
        victim = jobworker(db, config, "run", "--lease-seconds", "1")
        try:
            assert r.arrived.wait(60), "the first worker never sent the webhook"
            [pending] = client.list(job_type="webhook")
            assert pending.status is JobStatus.PROCESSING and pending.attempts == 1
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        rescuer = jobworker(db, config, "run", "--lease-seconds", "1")
        try:
            delivery = wait_until(
                lambda: (d := client.get(pending.job_id)).status.terminal and d, 60
            )
        finally:
            rescuer.terminate()
            rescuer.wait(timeout=30)
        source = client.get(job.job_id)
        all_deliveries = client.list(job_type="webhook")
    assert delivery.status is JobStatus.COMPLETED and delivery.attempts == 2
    assert len(r.requests) == 2 and r.requests[1]["status"] == 200
    bodies = [json.loads(q["body"]) for q in r.requests]
    assert {b["delivery_id"] for b in bodies} == {delivery.job_id}
    assert {b["event"] for b in bodies} == {"job.completed"}
    assert [q["headers"]["Jobworker-Delivery-Attempt"] for q in r.requests] == ["1", "2"]
    assert source.status is JobStatus.COMPLETED and source.attempts == 1
    assert len(all_deliveries) == 1
    assert any("attempt 2/8" in e.message and "delivered" in e.message for e in source.logs)
