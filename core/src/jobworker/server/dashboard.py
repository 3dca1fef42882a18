"""The dashboard at ``/``: server-rendered pages (Jinja2) with a little JavaScript for live
updates (``static/dashboard.js`` listening to the event streams). No build step, usable on a
phone, readable without colour (every state is also written as a word).

Signing in stores the API key in an ``HttpOnly``, ``SameSite=Strict`` cookie; pages show what
that key may read, and ``admin`` keys get cancel and retry buttons (plain form posts).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from ..client import Client
from ..model import JobStatus, utcnow
from ..views import batch_view, job_view
from .api_jobs import result_files
from .api_meta import fleet_view
from .auth import COOKIE, Principal, authenticate, token_of
from .errors import ApiError

__all__ = ["dashboard_router"]

Req = Request[Any, Any, Any]
COUNT_CAP = 1000
THROUGHPUT_WINDOW = timedelta(minutes=15)


def _who(request: Req) -> Principal | None:
    principal = authenticate(request, token_of(request))
    return principal if principal is not None and principal.allows("read") else None


def _client(request: Req) -> Client:
    client: Client = request.app.state.client
    return client


def _page(request: Req, name: str, who: Principal, **context: Any) -> Template:
    return Template(template_name=name, context={"who": who, "request": request, **context})


def type_rows(client: Client, owner: str | None) -> list[dict[str, Any]]:
    """Per job type: pending, running and failed counts and the jobs completed in the last 15
    minutes. Exact counts for admin keys; a key's own jobs are counted up to ``COUNT_CAP``."""
    now = utcnow()
    since = now - THROUGHPUT_WINDOW
    plugins = client.plugins
    types = sorted({h.job_type for t in plugins.job_types() if (h := plugins.handler_for(t))})
    rows = []
    for job_type in types:
        if owner is None:
            counts = client.counts(job_type=job_type)
        else:
            counts = {
                s.value: len(client.list(status=s, job_type=job_type, limit=COUNT_CAP, owner=owner))
                for s in (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED)
            }
        # Jobs finished in the window were created in it or before: look back a day at most.
        done = client.list(
            status=JobStatus.COMPLETED,
            job_type=job_type,
            created_from=now - timedelta(days=1),
            limit=COUNT_CAP,
            owner=owner,
        )
        rows.append(
            {
                "job_type": job_type,
                "pending": counts["pending"],
                "running": counts["processing"],
                "failed": counts["failed"],
                "recent": sum(1 for j in done if j.completed_at and j.completed_at >= since),
            }
        )
    return rows


@get("/", sync_to_thread=True, include_in_schema=False)
def overview(request: Req) -> Template | Redirect:
    who = _who(request)
    if who is None:
        return Redirect("/login")
    client = _client(request)
    batches = [batch_view(b) for b in client.batches(limit=20, owner=who.owner_filter)]
    return _page(
        request,
        "overview.html",
        who,
        types=type_rows(client, who.owner_filter),
        batches=batches,
        counts=client.counts() if who.admin else None,
        fleet=fleet_view(client, admin=True) if who.admin else None,
    )


@get("/jobs", sync_to_thread=True, include_in_schema=False)
def jobs_page(
    request: Req,
    status: str | None = None,
    job_type: str | None = None,
    batch_id: str | None = None,
) -> Template | Redirect:
    who = _who(request)
    if who is None:
        return Redirect("/login")
    if status not in (None, "", *(s.value for s in JobStatus)):
        raise ApiError(400, "INVALID_REQUEST", f"unknown status {status!r}")
    jobs = _client(request).list(
        status=status or None,
        job_type=job_type or None,
        batch_id=batch_id or None,
        limit=100,
        owner=who.owner_filter,
    )
    filters = {"status": status or "", "job_type": job_type or "", "batch_id": batch_id or ""}
    return _page(request, "jobs.html", who, jobs=[job_view(j) for j in jobs], filters=filters)


@get("/jobs/{job_id:str}", sync_to_thread=True, include_in_schema=False)
def job_page(request: Req, job_id: str) -> Template | Redirect:
    who = _who(request)
    if who is None:
        return Redirect("/login")
    job = _client(request).store.get_job(job_id)
    if job is None or not who.owns(job):
        raise ApiError(404, "NOT_FOUND", f"no job {job_id}")
    files = result_files(request.app.state.config, job_id)
    return _page(request, "job.html", who, job=job_view(job), files=files)


@post("/jobs/{job_id:str}/{action:str}", sync_to_thread=True, include_in_schema=False)
def job_action(request: Req, job_id: str, action: str) -> Redirect:
    """The admin's cancel and retry buttons."""
    who = _who(request)
    if who is None or not who.admin:
        raise ApiError(403, "FORBIDDEN", "cancel and retry from the dashboard need an admin key")
    if action == "cancel":
        _client(request).cancel(job_id)
    elif action == "retry":
        _client(request).retry(job_id)
    else:
        raise ApiError(404, "NOT_FOUND", f"no action {action!r}")
    return Redirect(f"/jobs/{job_id}")


@get("/login", include_in_schema=False, sync_to_thread=False)
def login_form(request: Req) -> Template:
    return Template(template_name="login.html", context={"who": None, "error": None})


@post("/login", sync_to_thread=True, include_in_schema=False)
def login(
    request: Req,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    token = (data.get("key") or "").strip()
    who = authenticate(request, token)
    if who is None or not who.allows("read"):
        return Template(
            template_name="login.html",
            context={"who": None, "error": "That key is not valid."},
            status_code=401,
        )
    return Redirect(
        "/",
        cookies=[Cookie(key=COOKIE, value=token, httponly=True, samesite="strict", path="/")],
    )


@post("/logout", include_in_schema=False, sync_to_thread=False)
def logout() -> Redirect:
    return Redirect("/login", cookies=[Cookie(key=COOKIE, value="", max_age=0, path="/")])


dashboard_router = Router(
    path="/",
    route_handlers=[overview, jobs_page, job_page, job_action, login_form, login, logout],
    include_in_schema=False,
)
