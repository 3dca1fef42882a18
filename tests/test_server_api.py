"""The REST API of ``jobworker serve``: a real server process on 127.0.0.1 over the real stores
(SQLite, and MongoDB when MONGO_URI is set), every route and scope, ownership between two keys,
oversize and malformed requests."""

from __future__ import annotations

import json

import httpx
import pytest
from procs import wait_until
from serverproc import Server, read_events, start_server, store_url_for
from storefactory import BACKENDS


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    cwd = tmp_path_factory.mktemp(f"serve-{request.param}")
    srv = start_server(store_url_for(request.param, cwd), cwd, "--max-body-mb", "1")
    srv.make_key("alice", "submit")
    srv.make_key("bob", "submit")
    srv.make_key("reader", "read")
    srv.make_key("admin", "admin")
    srv.start_worker()
    yield srv
    srv.stop()


def _submit(client: httpx.Client, job_type: str = "async", **params) -> dict:
    response = client.post("/v1/jobs", json={"job_type": job_type, "parameters": params})
    assert response.status_code == 201, response.text
    return response.json()


def _finished(client: httpx.Client, job_id: str) -> dict:
    return wait_until(
        lambda: (
            (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in ("completed", "failed")
            and j
        ),
        timeout=60,
    )


def test_health_is_open_and_everything_else_needs_a_key(server: Server) -> None:
    anonymous = server.as_(None)
    assert anonymous.get("/v1/health").json() == {"status": "ok"}
    for method, path in (("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/job-types")):
        response = anonymous.request(method, path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    forged = httpx.get(f"{server.url}/v1/jobs", headers={"Authorization": "Bearer jw_x_y"})
    assert forged.status_code == 401
    assert (
        "access-control-allow-origin"
        not in anonymous.get("/v1/health", headers={"Origin": "https://evil.example"}).headers
    )


def test_scopes_and_ownership_between_two_keys(server: Server) -> None:
    alice, bob, reader, admin = (server.as_(n) for n in ("alice", "bob", "reader", "admin"))
    job = _submit(alice, n=7, record=None)
    hooked = alice.post(
        "/v1/jobs",
        json={
            "job_type": "async",
            "parameters": {},
            "webhook": {"url": "https://example.org/hook", "secret": "s3cr3t", "token": "t0k"},
        },
    ).json()
    assert hooked["parameters"]["webhook"]["secret"] == "***"
    assert hooked["parameters"]["webhook"]["token"] == "***"
    assert "s3cr3t" not in alice.get(f"/v1/jobs/{hooked['job_id']}").text
    # Bob cannot see, cancel or retry Alice's job; it looks absent.
    assert bob.get(f"/v1/jobs/{job['job_id']}").status_code == 404
    assert bob.post(f"/v1/jobs/{job['job_id']}/cancel").status_code == 404
    assert job["job_id"] not in {j["job_id"] for j in bob.get("/v1/jobs").json()["items"]}
    # A read-only key reads but cannot submit; admin sees everybody's jobs.
    assert reader.post("/v1/jobs", json={"job_type": "async"}).status_code == 403
    assert reader.get("/v1/jobs").json()["items"] == []
    assert admin.get(f"/v1/jobs/{job['job_id']}").status_code == 200
    ids = {j["job_id"] for j in admin.get("/v1/jobs", params={"limit": 500}).json()["items"]}
    assert {job["job_id"], hooked["job_id"]} <= ids
    done = _finished(alice, job["job_id"])
    assert done["status"] == "completed" and done["results"]["structured_data"]["n"] == 7


def test_listing_filters_and_cursor_pagination(server: Server) -> None:
    server.make_key("pager", "submit")
    pager = server.as_("pager")
    made = [_submit(pager, n=i)["job_id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = pager.get("/v1/jobs", params=params).json()
        seen += [j["job_id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]  # newest first, each once
    first = pager.get(f"/v1/jobs/{made[0]}").json()
    span = {"created_from": first["created_at"], "limit": 50}
    assert len(pager.get("/v1/jobs", params=span).json()["items"]) == 5
    before = {"created_to": first["created_at"]}
    assert pager.get("/v1/jobs", params=before).json()["items"] == []
    assert pager.get("/v1/jobs", params={"job_type": "thread"}).json()["items"] == []
    bad = pager.get("/v1/jobs", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_CURSOR"
    assert pager.get("/v1/jobs", params={"status": "bogus"}).status_code == 400


def test_batch_events_logs_cancel_and_retry(server: Server) -> None:
    alice, admin = server.as_("alice"), server.as_("admin")
    batch = alice.post(
        "/v1/batches",
        json={
            "batch_name": "three",
            "jobs": [{"job_type": "async", "parameters": {"n": i}} for i in range(3)],
        },
    ).json()
    assert batch["total_jobs"] == 3 and len(batch["job_ids"]) == 3
    with alice.stream("GET", f"/v1/batches/{batch['batch_id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    assert events[-1][0] == "end"
    assert events[-2][1]["completed_jobs"] == 3 and events[-2][1]["percent"] == 100
    listed = alice.get("/v1/jobs", params={"batch_id": batch["batch_id"]}).json()["items"]
    assert {j["job_id"] for j in listed} == set(batch["job_ids"])
    assert server.as_("bob").get(f"/v1/batches/{batch['batch_id']}").status_code == 404
    assert batch["batch_id"] in {b["batch_id"] for b in alice.get("/v1/batches").json()["items"]}
    # A job's stream carries its logs; the logs route lists them too.
    with alice.stream("GET", f"/v1/jobs/{batch['job_ids'][0]}/events") as response:
        events = read_events(response)
    assert [e for e, _ in events][-1] == "end"
    assert any(e == "log" for e, _ in events)
    logs = alice.get(f"/v1/jobs/{batch['job_ids'][0]}/logs").json()
    assert logs and {"timestamp", "level", "message"} <= set(logs[0])
    with alice.stream("GET", f"/v1/jobs/{batch['job_ids'][0]}/logs/follow") as response:
        followed = read_events(response)
    assert [d for e, d in followed if e == "log"] == logs and followed[-1][0] == "end"
    # Cancel a running job; retry a failed one.
    slow = _submit(alice, "thread", sleep=30)
    wait_until(lambda: alice.get(f"/v1/jobs/{slow['job_id']}").json()["status"] == "processing")
    assert alice.post(f"/v1/jobs/{slow['job_id']}/cancel").status_code == 200
    assert _finished(alice, slow["job_id"])["error"]["code"] == "CANCELLED"
    assert alice.post(f"/v1/jobs/{slow['job_id']}/cancel").status_code == 409
    failing = _submit(alice, fail="final")
    assert _finished(alice, failing["job_id"])["status"] == "failed"
    assert server.as_("reader").post(f"/v1/jobs/{failing['job_id']}/retry").status_code == 403
    again = admin.post(f"/v1/jobs/{failing['job_id']}/retry")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    ok = _submit(alice)
    _finished(alice, ok["job_id"])
    assert alice.post(f"/v1/jobs/{ok['job_id']}/retry").status_code == 409


def test_upload_and_result_files(server: Server) -> None:
    alice = server.as_("alice")
    files = {"file": ("../../etc/passwd notes.txt", b"hello upload", "text/plain")}
    form = {
        "job": json.dumps({"job_type": "async", "parameters": {"n": 1}}),
        "file_param": "record",
    }
    response = alice.post("/v1/jobs/upload", files=files, data=form)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["parameters"] == {"n": 1, "record": job["parameters"]["record"]}  # as given
    stored = job["parameters"]["record"]
    assert stored == str(server.cwd / "jobworker-uploads" / job["job_id"] / "passwd_notes.txt")
    uploaded = server.cwd / "jobworker-uploads" / job["job_id"] / "passwd_notes.txt"
    assert uploaded.read_bytes().startswith(b"hello upload")
    big = {"file": ("big.bin", b"x" * (2 * 1024 * 1024), "application/octet-stream")}
    too_big = alice.post("/v1/jobs/upload", files=big, data=form)
    assert too_big.status_code == 413
    assert alice.post("/v1/jobs/upload", data=form).status_code == 400
    # Result files: only those under <output_root>/<job_id>/ are listed and served.
    out = server.cwd / "jobworker-output" / job["job_id"]
    (out / "pages").mkdir(parents=True)
    (out / "pages" / "page_001.txt").write_text("page one")
    (server.cwd / "secret.txt").write_text("not yours")
    listed = alice.get(f"/v1/jobs/{job['job_id']}/files").json()
    assert listed == ["pages/page_001.txt"]
    got = alice.get(f"/v1/jobs/{job['job_id']}/files/pages/page_001.txt")
    assert got.status_code == 200 and got.text == "page one"
    for path in ("../../secret.txt", "..%2F..%2Fsecret.txt", "/etc/passwd"):
        assert alice.get(f"/v1/jobs/{job['job_id']}/files/{path}").status_code == 404
    assert server.as_("bob").get(f"/v1/jobs/{job['job_id']}/files").status_code == 404


def test_malformed_and_oversize_requests(server: Server) -> None:
    alice = server.as_("alice")
    cases = [
        (b"{not json", "application/json"),
        (json.dumps({"parameters": {}}).encode(), "application/json"),
        (json.dumps({"job_type": 5}).encode(), "application/json"),
    ]
    for body, kind in cases:
        response = alice.post("/v1/jobs", content=body, headers={"content-type": kind})
        assert response.status_code == 400, (body, response.text)
        assert "Traceback" not in response.text and "error" in response.json()
    refused = alice.post("/v1/jobs", json={"job_type": "async", "parameters": {"n": -1}})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_PARAMETERS"
    unknown = alice.post("/v1/jobs", json={"job_type": "nope"})
    assert unknown.json()["error"]["code"] == "UNKNOWN_JOB_TYPE"
    huge = alice.post("/v1/jobs", json={"job_type": "async", "parameters": {"x": "y" * 2_000_000}})
    assert huge.status_code == 413
    assert alice.get("/v1/jobs/job-does-not-exist").status_code == 404
    assert alice.get("/v1/no-such-route").json()["error"]["code"] == "NOT_FOUND"


def test_plugins_job_types_and_openapi(server: Server) -> None:
    reader = server.as_("reader")
    types = {t["job_type"]: t for t in reader.get("/v1/job-types").json()}
    schema = types["async"]["parameters"]
    assert schema["properties"]["sleep"] == {"type": "number", "default": 0.0}
    assert reader.get("/v1/job-types/async").json() == types["async"]
    assert reader.get("/v1/job-types/nope").status_code == 404
    assert any("async" in p["job_types"] for p in reader.get("/v1/plugins").json())
    workers = wait_until(lambda: reader.get("/v1/workers").json())
    assert len(workers) == 1 and workers[0]["state"] == "live"
    assert "async" in workers[0]["types"] and isinstance(workers[0]["running"], int)
    assert isinstance(server.as_("admin").get("/v1/workers").json()[0]["running"], list)
    with server.as_("admin").stream("GET", "/v1/fleet/events") as response:
        [(event, fleet)] = read_events(response, until="fleet", limit=1)
    assert event == "fleet"
    assert set(fleet["counts"]) == {"pending", "processing", "completed", "failed"}
    assert fleet["workers"][0]["worker_id"] == workers[0]["worker_id"]
    document = httpx.get(f"{server.url}/schema/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/v1/jobs", "/v1/batches", "/v1/workers", "/v1/jobs/{job_id}/events"} <= set(
        document["paths"]
    )
    assert set(document["components"]["schemas"]["JobSpec"]["required"]) == {"job_type"}


def test_rate_limit_per_key_and_configured_cors(tmp_path) -> None:
    server = start_server(
        f"sqlite:///{tmp_path}/jobs.db",
        tmp_path,
        "--rate",
        "1",
        "--cors-origin",
        "https://app.example",
    )
    try:
        server.make_key("busy", "read")
        server.make_key("calm", "read")
        busy = server.as_("busy")
        answers = [busy.get("/v1/jobs") for _ in range(8)]  # a burst of 4 is allowed
        limited = [r for r in answers if r.status_code == 429]
        assert limited and answers[0].status_code == 200
        assert limited[0].json()["error"]["code"] == "RATE_LIMITED"
        assert int(limited[0].headers["retry-after"]) >= 1
        assert server.as_("calm").get("/v1/jobs").status_code == 200  # per key
        preflight = httpx.options(
            f"{server.url}/v1/jobs",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    finally:
        server.stop()


def test_dashboard_pages_follow_the_same_keys(server: Server) -> None:
    alice, bob = server.as_("alice"), server.as_("bob")
    mine = _submit(alice, sleep=0.1)["job_id"]
    theirs = _submit(bob)["job_id"]
    anonymous = httpx.get(f"{server.url}/", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and anonymous.headers["location"] == "/login"
    cookie = {"jobworker_key": server.tokens["alice"]}
    with httpx.Client(base_url=server.url, cookies=cookie) as page:
        overview = page.get("/")
        assert overview.status_code == 200 and "Job types" in overview.text
        assert "Workers" not in overview.text  # the fleet is for admin keys
        assert mine in page.get("/jobs").text and theirs not in page.get("/jobs").text
        assert page.get(f"/jobs/{mine}").status_code == 200
        assert "Cancel</button>" not in page.get(f"/jobs/{mine}").text
        assert page.get(f"/jobs/{theirs}").status_code == 404
        assert page.post(f"/jobs/{mine}/cancel").status_code == 403
