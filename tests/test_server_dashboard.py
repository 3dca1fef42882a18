"""The dashboard in a real headless browser: Debian's chromium driven by Playwright (no browser
download: ``executable_path``). Signs in, watches a running batch's bar move, cancels a job from
its page, checks the phone layout; screenshots go to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright import sync_api
from serverproc import start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("dashboard")
    srv = start_server(f"sqlite:///{cwd}/jobs.db", cwd)
    srv.make_key("admin", "admin")
    srv.start_worker("--concurrency", "1")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _signed_in(browser, server, **context):
    page = browser.new_context(**context).new_page()
    page.goto(f"{server.url}/")
    assert page.url.endswith("/login")
    page.fill("input[name=key]", server.tokens["admin"])
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Overview')")
    return page


def test_batch_bar_moves_and_a_job_is_cancelled_from_its_page(browser, server) -> None:
    api = server.as_("admin")
    jobs = [{"job_type": "thread", "parameters": {"sleep": 0.6}} for _ in range(4)]
    batch = api.post("/v1/batches", json={"batch_name": "moving", "jobs": jobs}).json()
    page = _signed_in(browser, server)
    bar = f"#batch-{batch['batch_id']} progress"
    first = page.eval_on_selector(bar, "el => el.value")
    assert first < 4
    page.screenshot(path=str(SHOTS / "overview-batch-running.png"), full_page=True)
    # The bar moves without a reload (event stream), up to all four.
    page.wait_for_function(f"document.querySelector('{bar}').value > {first}", timeout=60_000)
    page.wait_for_selector(f"#batch-{batch['batch_id']} :text('4 of 4 finished')", timeout=60_000)
    page.screenshot(path=str(SHOTS / "overview-batch-done.png"), full_page=True)
    assert "completed" in page.inner_text(f"#batch-{batch['batch_id']}")
    page.reload()  # the worker that ran the batch is in the fleet table, with its heartbeat
    state = page.wait_for_selector("#fleet td[data-field=state]")
    assert state.inner_text() == "live"
    assert "s ago" in page.inner_text("#fleet")

    slow = api.post("/v1/jobs", json={"job_type": "thread", "parameters": {"sleep": 60}}).json()
    page.goto(f"{server.url}/jobs/{slow['job_id']}")
    page.wait_for_selector("[data-field=status]:has-text('processing')", timeout=60_000)
    page.screenshot(path=str(SHOTS / "job-running.png"), full_page=True)
    page.click("#cancel")
    page.wait_for_selector("[data-field=status]:has-text('failed')", timeout=60_000)
    assert "CANCELLED" in page.inner_text("#job")
    page.screenshot(path=str(SHOTS / "job-cancelled.png"), full_page=True)
    assert api.get(f"/v1/jobs/{slow['job_id']}").json()["error"]["code"] == "CANCELLED"

    page.goto(f"{server.url}/jobs?status=failed")
    assert slow["job_id"] in page.content()


def test_phone_layout_and_sign_in_refusal(browser, server) -> None:
    phone = _signed_in(browser, server, viewport={"width": 375, "height": 740})
    wide = phone.evaluate("document.documentElement.scrollWidth")
    assert wide <= 375  # nothing forces sideways scrolling; tables scroll in their own box
    phone.screenshot(path=str(SHOTS / "overview-phone.png"), full_page=True)
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=key]", "jw_nope_nope")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")


def test_the_api_document_page_needs_nothing_from_outside(browser, server) -> None:
    """/schema/swagger loads Swagger UI from the server itself: with every request to another
    host refused, the page still lists the operations of the OpenAPI 3.1 document."""
    context = browser.new_context()
    outside: list[str] = []

    def only_the_server(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    page = context.new_page()
    page.goto(f"{server.url}/schema/swagger")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = {
        p.inner_text().replace("\u200b", "")
        for p in page.query_selector_all(".opblock-summary-path")
    }
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/api/jobs"} <= paths, paths
    assert "OAS 3.1" in page.inner_text(".info")
    assert outside == []
    page.screenshot(path=str(SHOTS / "swagger.png"))
    context.close()
