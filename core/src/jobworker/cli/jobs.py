"""Commands about jobs and batches: submit, batch, status, list, logs, watch, cancel, retry,
purge, store init, import."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidParameters, JobFailure
from ..model import Batch, Job, JobStatus
from ..views import batch_view, job_view
from .common import State, echo_json, fail, pass_state
from .outcome import (
    EXIT_FAILED,
    batch_line,
    describe_job,
    failed_jobs_lines,
    wait_ran_out,
)

if TYPE_CHECKING:
    from rich.console import Console


def _console() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def load_json(text: str, where: str) -> Any:
    """``json.loads``; JSON nested too deeply to parse is refused as ``INVALID_PARAMETERS``
    (``json.JSONDecodeError`` is left to the caller)."""
    try:
        return json.loads(text)
    except RecursionError:
        from ..validation import MAX_PARAMETER_DEPTH

        raise InvalidParameters(
            f"{where}: nested too deeply (parameters may nest {MAX_PARAMETER_DEPTH} levels)"
        ) from None


def parse_param(text: str) -> tuple[str, Any]:
    """``key=value`` (a string) or ``key:=json`` (any JSON value)."""
    if ":=" in text and text.index(":=") < text.index("=") + 1:
        key, raw = text.split(":=", 1)
        try:
            return key, load_json(raw, key)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"{text!r}: not JSON after ':=' ({exc})") from exc
    if "=" not in text:
        raise click.BadParameter(f"{text!r}: use key=value or key:=json")
    key, value = text.split("=", 1)
    return key, value


def _params_json(text: str) -> dict[str, Any]:
    try:
        value = load_json(text, "--params-json")
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"--params-json: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("--params-json: give a JSON object")
    return value


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use e.g. 30s, 15m, 12h or 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})


@click.command()
@click.argument("job_type")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter; KEY:=JSON for numbers, booleans, lists, objects. Repeatable.",
)
@click.option("--params-json", metavar="JSON", help="All parameters as one JSON object.")
@click.option("--priority", type=int, default=0, show_default=True)
@click.option("--delay", type=float, help="Seconds before the job may start.")
@click.option("--max-attempts", type=click.IntRange(1))
@click.option("--timeout", type=float, help="Seconds per attempt.")
@click.option("--idempotency-key", help="Submitting the same key again returns the first job.")
@click.option("--batch-id", help="Add the job to this batch (created if missing).")
@click.option("--name", "job_name", help="job_name of the job.")
@click.option(
    "--allow-unknown-type",
    is_flag=True,
    help="Accept a type no local plugin knows (the workers have it).",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    metavar="S",
    help="Wait up to S seconds for the end and show the outcome: exit 0 if completed, 1 if "
    "failed, 3 if still not done (see the exit codes in docs/cli.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job document as JSON.")
@pass_state
def submit(
    state: State,
    job_type: str,
    params: tuple[str, ...],
    params_json: str | None,
    priority: int,
    delay: float | None,
    max_attempts: int | None,
    timeout: float | None,
    idempotency_key: str | None,
    batch_id: str | None,
    job_name: str | None,
    allow_unknown_type: bool,
    wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Submit a job of JOB_TYPE; prints its job id (or the document with --json)."""
    try:
        parameters = _params_json(params_json) if params_json else {}
        parameters.update(parse_param(p) for p in params)
        client = state.client_for(job_type)
        job = client.submit(
            job_type,
            parameters,
            priority=priority,
            delay=delay,
            max_attempts=max_attempts,
            timeout=timeout,
            idempotency_key=idempotency_key,
            batch_id=batch_id,
            job_name=job_name,
            allow_unknown_type=allow_unknown_type,
        )
    except JobFailure as exc:
        fail(exc)
    if wait_seconds is None:
        if as_json:
            echo_json(job_view(job))
        else:
            click.echo(job.job_id)
        return
    _wait_and_show(state, job.job_id, wait_seconds, as_json)


def _wait_and_show(state: State, job_id: str, seconds: float, as_json: bool) -> None:
    """Wait for a job, print it (the document with ``as_json``, else its id and outcome),
    and exit 1 if it failed, 3 if it did not end in time."""
    try:
        job = state.client.wait(job_id, timeout=seconds)
    except TimeoutError:
        job = _get(state, job_id)
        if as_json:
            echo_json(job_view(job))
        unserved = state.client.unserved(job.job_type)
        wait_ran_out(job_id, seconds, job.status.value, unserved)
        return
    if as_json:
        echo_json(job_view(job))
    else:
        click.echo(job.job_id)
        for line in describe_job(job):
            click.echo(line, err=job.status is JobStatus.FAILED)
    if job.status is JobStatus.FAILED:
        sys.exit(EXIT_FAILED)


@click.group()
def batch() -> None:
    """Submit and inspect batches."""


@batch.command("submit")
@click.argument("file", type=click.File("r"))
@click.option("--name", "batch_name", help="batch_name (default: the batch id).")
@click.option("--allow-unknown-type", is_flag=True)
@click.option(
    "--webhook",
    "webhook_url",
    metavar="URL",
    help="Notify this URL (batch.finished) when every job has ended.",
)
@click.option("--webhook-secret", metavar="SECRET", help="HMAC secret for --webhook.")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    metavar="S",
    help="Wait up to S seconds for every job to end; list the failed ones. Exit 0 if all "
    "completed, 1 if any failed, 3 if the batch is still not done.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def batch_submit(
    state: State,
    file: Any,
    batch_name: str | None,
    allow_unknown_type: bool,
    webhook_url: str | None,
    webhook_secret: str | None,
    wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Submit the jobs of a JSONL FILE (one {"job_type", "parameters", ...} per line)."""
    specs = []
    for number, line in enumerate(file, 1):
        if line.strip():
            try:
                specs.append(load_json(line, f"line {number}"))
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"line {number}: not JSON: {exc}") from exc
            except InvalidParameters as exc:
                fail(exc)
    try:
        webhook = None
        if webhook_url:
            webhook = {"url": webhook_url, **({"secret": webhook_secret} if webhook_secret else {})}
        made = state.client.submit_batch(
            specs, batch_name=batch_name, allow_unknown_type=allow_unknown_type, webhook=webhook
        )
    except JobFailure as exc:
        fail(exc)
    if wait_seconds is not None:
        try:
            made = state.client.wait_batch(made.batch_id, timeout=wait_seconds)
        except TimeoutError:
            _batch_ran_out(state, made.batch_id, wait_seconds)
    if as_json:
        echo_json(batch_view(made))
    else:
        click.echo(made.batch_id)
    if wait_seconds is not None:
        _batch_outcome(state, made)


def _batch_ran_out(state: State, batch_id: str, seconds: float) -> None:
    waiting = state.client.list(batch_id=batch_id, status=JobStatus.PENDING, limit=10_000)
    reasons = {t: state.client.unserved(t) for t in sorted({j.job_type for j in waiting})}
    unserved = "; ".join(r for r in reasons.values() if r) or None
    wait_ran_out(f"batch {batch_id}", seconds, "running", unserved)


def _batch_outcome(state: State, batch: Batch) -> None:
    """Print a finished batch's counts and failed jobs; exit 1 if any failed."""
    click.echo(batch_line(batch))
    if batch.failed_jobs:
        failed = state.client.list(batch_id=batch.batch_id, status=JobStatus.FAILED, limit=11)
        for line in failed_jobs_lines(failed):
            click.echo(line, err=True)
        sys.exit(EXIT_FAILED)


@batch.command("status")
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def batch_status(state: State, batch_id: str, as_json: bool) -> None:
    """Show a batch's counters."""
    found = state.client.batch(batch_id)
    if found is None:
        raise click.ClickException(f"no batch {batch_id}")
    if as_json:
        echo_json(batch_view(found))
        return
    click.echo(
        f"{found.batch_id}  {found.status}  {found.percent}%  total {found.total_jobs}: "
        f"{found.completed_jobs} completed, {found.failed_jobs} failed, "
        f"{found.processing_jobs} processing, {found.pending_jobs} pending"
    )


@batch.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@pass_state
def batch_list(state: State, limit: int) -> None:
    """The newest batches."""
    from rich.table import Table

    table = Table("batch_id", "name", "status", "done", "failed", "total", "created_at")
    for b in state.store.list_batches(limit=limit):
        table.add_row(
            b.batch_id,
            str(b.batch_name),
            b.status,
            str(b.completed_jobs),
            str(b.failed_jobs),
            str(b.total_jobs),
            f"{b.created_at:%Y-%m-%d %H:%M:%S}",
        )
    _console().print(table)


def _get(state: State, job_id: str) -> Job:
    job = state.client.get(job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id}")
    return job


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="The job document (stored shape).")
@pass_state
def status(state: State, job_id: str, as_json: bool) -> None:
    """Show one job."""
    job = _get(state, job_id)
    if as_json:
        echo_json(job_view(job))
        return
    unserved = state.client.unserved(job.job_type) if job.status is JobStatus.PENDING else None
    for line in describe_job(job, unserved):
        click.echo(line)


@click.command("list")
@click.option("--status", "status_", type=click.Choice([s.value for s in JobStatus]))
@click.option("--type", "job_type")
@click.option("--batch", "batch_id")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def list_jobs(
    state: State,
    status_: str | None,
    job_type: str | None,
    batch_id: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    from rich.table import Table

    jobs = state.client.list(status=status_, job_type=job_type, batch_id=batch_id, limit=limit)
    if as_json:
        echo_json([job_view(j) for j in jobs])
        return
    table = Table("job_id", "type", "status", "progress", "attempts", "error", "created_at")
    for j in jobs:
        table.add_row(
            j.job_id,
            j.job_type,
            j.status.value,
            f"{j.progress.percent}% {j.progress.step}" if j.progress else "",
            f"{j.attempts}/{j.max_attempts}",
            j.error.code if j.error else "",
            f"{j.created_at:%Y-%m-%d %H:%M:%S}",
        )
    _console().print(table)


@click.command()
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@pass_state
def logs(state: State, job_id: str, follow: bool) -> None:
    """Print a job's log entries."""
    shown = 0
    while True:
        job = _get(state, job_id)
        for entry in job.logs[shown:]:
            click.echo(
                f"{entry.timestamp:%Y-%m-%d %H:%M:%S.%f}"[:-3]
                + f" {entry.level.value:<8} {entry.message}"
            )
        shown = len(job.logs)
        if not follow or job.status.terminal:
            return
        time.sleep(0.5)


@click.command()
@click.argument("job_id", required=False)
@click.option("--batch", "batch_id", help="Watch a whole batch.")
@click.option("--interval", type=float, default=0.3, show_default=True)
@pass_state
def watch(state: State, job_id: str | None, batch_id: str | None, interval: float) -> None:
    """Live progress bars until the job (or every job of --batch) is done; then the outcome.
    Exit 0 if everything completed, 1 if a job failed."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    if not job_id and not batch_id:
        raise click.UsageError("give a JOB_ID or --batch BATCH_ID")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}"),
    )
    with Progress(*columns, console=_console()) as bars:
        tasks: dict[str, Any] = {}
        while True:
            jobs = (
                [_get(state, job_id)]
                if job_id
                else state.client.list(batch_id=batch_id, limit=10_000)
            )
            for j in jobs:
                if j.job_id not in tasks:
                    tasks[j.job_id] = bars.add_task(
                        f"{j.job_type} {j.job_id[:16]}", total=100, state=""
                    )
                percent = 100 if j.status.terminal else (j.progress.percent if j.progress else 0)
                label = (
                    j.status.value
                    + (f" {j.error.code}" if j.error else "")
                    + (f" {j.progress.step}" if j.progress and not j.status.terminal else "")
                )
                bars.update(tasks[j.job_id], completed=percent, state=label)
            if batch_id:
                b = state.client.batch(batch_id)
                if b is None:
                    raise click.ClickException(f"no batch {batch_id}")
                if b.finished:
                    break
            elif jobs[0].status.terminal:
                break
            time.sleep(interval)
    if batch_id:
        b = state.client.batch(batch_id)
        if b is None:
            raise click.ClickException(f"no batch {batch_id}")
        _batch_outcome(state, b)
        return
    job = _get(state, jobs[0].job_id)
    for line in describe_job(job)[1:]:
        click.echo(line, err=job.status is JobStatus.FAILED)
    if job.status is JobStatus.FAILED:
        sys.exit(EXIT_FAILED)


@click.command()
@click.argument("job_id")
@pass_state
def cancel(state: State, job_id: str) -> None:
    """Cancel a pending job, or stop a running one."""
    job = state.client.cancel(job_id)
    if job is None:
        raise click.ClickException(f"{job_id}: no such job, or it already finished")
    click.echo(f"{job_id}: {'cancelled' if job.status.terminal else 'cancel requested'}")


@click.command()
@click.argument("job_id")
@click.option(
    "--attempts",
    type=click.IntRange(1),
    help="How many more attempts it gets (default: its type's max_attempts).",
)
@pass_state
def retry(state: State, job_id: str, attempts: int | None) -> None:
    """Run a failed job again. Attempts keep counting: a job that failed at attempt 1 of 3
    runs attempt 2 of 4 next."""
    job = state.client.retry(job_id, attempts=attempts)
    if job is None:
        raise click.ClickException(f"{job_id}: no such failed job")
    click.echo(f"{job_id}: pending again (next: attempt {job.attempts + 1} of {job.max_attempts})")


@click.command()
@click.option("--older-than", default="7d", show_default=True, help="e.g. 12h, 7d.")
@click.option("--status", "statuses", default="completed,failed", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def purge(state: State, older_than: str, statuses: str, dry_run: bool, yes: bool) -> None:
    """Delete finished jobs last updated longer ago than --older-than: their documents, logs,
    output folders and scratch, and the batches no job is left in.

    On a terminal it shows what it would delete and asks first (--yes skips the question);
    elsewhere it deletes without asking."""
    chosen = [JobStatus(s.strip()) for s in statuses.split(",") if s.strip()]
    if any(not s.terminal for s in chosen):
        raise click.BadParameter("only completed and failed jobs can be purged")
    age = parse_duration(older_than)
    if dry_run or (not yes and sys.stdin.isatty()):
        plan = state.client.purge(age, chosen, dry_run=True)
        folders = sum(len(state.client.job_folders(j)) for j in plan.job_ids)
        click.echo(
            f"{'would delete' if dry_run else 'to delete'}: {len(plan.job_ids)} jobs, "
            f"{len(plan.batch_ids)} batches, {folders} folders under "
            f"{state.settings.output_root} and scratch"
        )
        if dry_run or not plan.job_ids:
            return
        click.confirm("delete them?", abort=True)
    done = state.client.purge(age, chosen)
    click.echo(f"purged {len(done.job_ids)} jobs, {len(done.batch_ids)} batches")


@click.group()
def store() -> None:
    """Store administration."""


@store.command("init")
@pass_state
def store_init(state: State) -> None:
    """Create tables/collections and every index the store uses (idempotent)."""
    state.store.init()
    click.echo(f"initialised {state.settings.store}")


@click.command("import")
@click.argument("jobs_file", type=click.File("r"))
@click.option(
    "--batches",
    "batches_file",
    type=click.File("r"),
    help="JSONL of batch documents to import first.",
)
@pass_state
def import_documents(state: State, jobs_file: Any, batches_file: Any) -> None:
    """Import job documents (JSONL, legacy shapes, Extended JSON dates) as they are."""
    batches = [json.loads(line) for line in batches_file or [] if line.strip()]
    jobs = [json.loads(line) for line in jobs_file if line.strip()]
    state.store.import_documents(jobs, batches)
    click.echo(f"imported {len(jobs)} jobs, {len(batches)} batches")
