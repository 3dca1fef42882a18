"""The old system's routes on a real server: requests replayed from shared/legacy-api.md with
the old response shapes, and the weaknesses gone (tokens echoed, self-declared user_id,
tracebacks). Also ``jobworker keys`` on the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest
from procs import SUPPORT, pythonpath, wait_until
from serverproc import LEGACY_KEY, Server, read_events, start_server, store_url_for
from storefactory import BACKENDS

OLD_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")  # naive, no offset


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    cwd = tmp_path_factory.mktemp(f"legacy-{request.param}")
    # The session plugin is not loaded here: its jobs are accepted for workers elsewhere.
    srv = start_server(store_url_for(request.param, cwd), cwd, "--allow-unknown-type")
    srv.make_key("other", "submit")
    srv.start_worker()
    yield srv
    srv.stop()


@pytest.fixture
def old(server: Server):
    """An old client: the shared key in ``X-Secretary-Api-Key``."""
    with httpx.Client(base_url=server.url, headers={"X-Secretary-Api-Key": LEGACY_KEY}) as c:
        yield c


def test_create_and_get_job_with_the_old_shapes(server: Server, old: httpx.Client) -> None:
    body = {
        "job_type": "async",
        "parameters": {
            "n": 3,
            "webhook": {"url": "https://client.example/hook", "token": "s3cr3t", "jobId": "ext-42"},
        },
        "user_id": "mallory",
    }
    created = old.post("/api/jobs/", json=body)
    assert created.status_code == 200
    envelope = created.json()
    assert envelope["status"] == "success" and set(envelope["data"]) == {"job_id", "job"}
    job = envelope["data"]["job"]
    assert job["job_id"].startswith("job-") and job["status"] == "pending"
    assert {
        "job_type",
        "created_at",
        "updated_at",
        "parameters",
        "archived",
        "access_control",
    } <= set(job)
    assert OLD_DATE.match(job["created_at"])
    assert job["parameters"]["source_language"] == "en" and job["parameters"]["extra"] == {"n": 3}
    assert job["parameters"]["webhook"]["token"] == "***"  # never echoed back
    assert "user_id" not in job  # self-declared users are not taken
    wait_until(
        lambda: old.get(f"/api/jobs/{job['job_id']}").json()["data"]["status"] == "completed"
    )
    got = old.get(f"/api/jobs/{job['job_id']}").json()
    assert got["status"] == "success"
    assert got["data"]["results"]["structured_data"]["n"] == 3
    assert OLD_DATE.match(got["data"]["completed_at"])
    assert "logs" not in got["data"]
    # The same with a Bearer header; another key does not see the legacy key's job.
    bearer = httpx.get(
        f"{server.url}/api/jobs/{job['job_id']}", headers={"Authorization": f"Bearer {LEGACY_KEY}"}
    )
    assert bearer.status_code == 200
    assert server.as_("other").get(f"/api/jobs/{job['job_id']}").status_code == 404


def test_batch_stream_and_errors(server: Server, old: httpx.Client) -> None:
    made = old.post(
        "/api/jobs/batch",
        json={
            "batch_name": "old batch",
            "jobs": [
                {"job_type": "async", "parameters": {"n": 1}},
                {"job_type": "async", "parameters": {"n": 2}},
            ],
        },
    ).json()
    assert made["status"] == "success"
    assert set(made["data"]) == {"batch_id", "job_ids", "batch"}
    assert len(made["data"]["job_ids"]) == 2
    batch = made["data"]["batch"]
    assert batch["batch_name"] == "old batch" and batch["total_jobs"] == 2
    assert {
        "completed_jobs",
        "failed_jobs",
        "pending_jobs",
        "processing_jobs",
        "isActive",
        "archived",
    } <= set(batch)
    with old.stream("GET", f"/api/jobs/{made['data']['job_ids'][0]}/stream") as response:
        events = read_events(response, until="completed")
    assert events[-1][0] == "completed"
    assert events[-1][1]["job"]["id"] == made["data"]["job_ids"][0]
    assert events[-1][1]["data"]["structured_data"]["n"] == 1
    got = old.get(f"/api/jobs/batch/{made['data']['batch_id']}").json()
    assert got["status"] == "success" and got["data"]["batch_id"] == made["data"]["batch_id"]
    missing = old.get("/api/jobs/job-nope")
    assert missing.status_code == 404
    assert missing.json() == {"status": "error", "error": {"message": "job not found"}}
    assert old.get("/api/jobs/batch/batch-nope").json()["error"]["message"] == "batch not found"
    denied = httpx.post(
        f"{server.url}/api/jobs/",
        json={"job_type": "async"},
        headers={"X-Secretary-Api-Key": "wrong"},
    )
    assert denied.status_code == 401
    assert denied.json() == {
        "status": "error",
        "error": {"code": "UNAUTHORIZED", "message": "Invalid or missing service token"},
    }
    untyped = old.post("/api/jobs/", json={"parameters": {}})
    assert untyped.status_code == 400 and untyped.json()["status"] == "error"
    broken = old.post("/api/jobs/", content=b"{oops", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "Traceback" not in broken.text


def test_event_job_routes(server: Server, old: httpx.Client) -> None:
    created = old.post(
        "/api/event-job/jobs",
        json={
            "parameters": {"event": "FOSDEM", "session": "Keynote"},
            "job_name": "keynote",
            "job_id": "job-injected",
            "status": "completed",
            "user_id": "mallory",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "success" and body["message"]
    job = body["job"]
    assert job["job_id"] != "job-injected" and job["status"] == "pending"
    assert job["job_type"] == "session" and job["job_name"] == "keynote"
    listed = old.get("/api/event-job/jobs", params={"limit": 5}).json()
    assert listed["status"] == "success" and job["job_id"] in {j["job_id"] for j in listed["jobs"]}
    assert old.get(f"/api/event-job/jobs/{job['job_id']}").json()["job"]["job_id"] == job["job_id"]
    missing = old.get("/api/event-job/jobs/job-nope")
    assert missing.status_code == 404 and missing.json()["error_type"] == "not_found"
    batch = old.post(
        "/api/event-job/batches",
        json={"batch_name": "conf", "jobs": [{"parameters": {"event": "FOSDEM", "session": "A"}}]},
    )
    assert batch.status_code == 201 and batch.json()["batch"]["total_jobs"] == 1
    batch_id = batch.json()["batch"]["batch_id"]
    assert old.get(f"/api/event-job/batches/{batch_id}").json()["batch"]["batch_name"] == "conf"
    assert batch_id in {b["batch_id"] for b in old.get("/api/event-job/batches").json()["batches"]}
    bad = old.post("/api/event-job/jobs", json={"parameters": "nope"})
    assert bad.status_code == 400 and bad.json()["status"] == "error" and "error_type" in bad.json()
    # Restart: only a failed job; it comes back pending with its error cleared.
    failing = old.post("/api/jobs/", json={"job_type": "async", "parameters": {"fail": "final"}})
    job_id = failing.json()["data"]["job_id"]
    wait_until(lambda: old.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "failed")
    restarted = old.post(f"/api/event-job/{job_id}/restart").json()
    assert restarted["status"] == "success" and "error" not in restarted["job"]


def test_keys_command_line(server: Server) -> None:
    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "jobworker", "--store", server.store_url, "keys", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=server.cwd,
            env={
                "PYTHONPATH": pythonpath(SUPPORT),
                "JOBWORKER_PLUGINS": "",
                "PATH": "/usr/bin:/bin",
            },
        ).stdout

    made = json.loads(cli("create", "ci", "--scope", "read", "--scope", "submit", "--json"))
    token = made["token"]
    assert made["scopes"] == ["read", "submit"]
    listed = json.loads(cli("list", "--json"))
    assert made["key_id"] in {k["key_id"] for k in listed}
    assert token not in json.dumps(listed)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/v1/jobs", headers=headers).status_code == 200
    cli("revoke", made["key_id"])
    assert httpx.get(f"{server.url}/v1/jobs", headers=headers).status_code == 401
