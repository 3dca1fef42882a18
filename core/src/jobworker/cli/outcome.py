"""How commands show a job to a person, report the end of what they waited for, and exit
(:data:`EXIT_CODES`, the one place the exit codes are defined; docs/cli.md lists them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the model is imported by the commands that use these (a quick --version)
    from ..model import Batch, Job

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "EXIT_WAIT_RAN_OUT",
    "batch_line",
    "describe_job",
    "failed_jobs_lines",
    "short_value",
    "wait_ran_out",
]

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_WAIT_RAN_OUT = 3

#: Every exit code of ``jobworker`` and what it means.
EXIT_CODES = {
    0: "done; for a command that waited (`submit --wait`, `batch submit --wait`, `watch`): "
    "every job it waited for completed",
    EXIT_FAILED: "a job it waited for failed (its error code and message are printed; for a "
    "batch, the failed jobs), or the command itself failed (e.g. no such job)",
    EXIT_REFUSED: "refused: bad usage or invalid parameters; nothing was stored",
    EXIT_WAIT_RAN_OUT: "a wait ran out before the job or batch ended: one line says what it is "
    "still doing and, when no live worker serves its type, says so",
}

_WIDTH = 72


def short_value(value: Any) -> str:
    """A result value on one line: paths of existing files in full, other text cut to about
    72 characters, numbers as they are, lists and objects as short JSON."""
    if isinstance(value, str):
        if "\n" not in value and len(value) < 4096 and os.path.exists(value):
            return value
        flat = " ".join(value.split())
        return flat if len(flat) <= _WIDTH else f"{flat[: _WIDTH - 1]}… ({len(value)} chars)"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        shown = [short_value(v) for v in value[:3]]
        more = f", … ({len(value)} items)" if len(value) > 3 else ""
        text = ", ".join(shown) + more
        if len(text) <= 3 * _WIDTH:
            return text
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= _WIDTH:
        return text
    size = f"{len(value)} items" if isinstance(value, (list, dict)) else f"{len(text)} chars"
    return f"{text[: _WIDTH - 1]}… ({size})"


def describe_job(job: Job, unserved: str | None = None) -> list[str]:
    """The lines ``jobworker status`` prints: status, progress and attempts; the error; why a
    pending job waits (``unserved``); every non-empty result with a short value."""
    from ..model import JobStatus

    p = job.progress
    lines = [
        f"{job.job_id}  {job.job_type}  {job.status.value}"
        f"{f'  {p.percent}% {p.step}' if p else ''}  attempt {job.attempts}/{job.max_attempts}"
    ]
    if job.error:
        lines.append(f"error: {job.error.code}: {job.error.message}")
    if job.status is JobStatus.PENDING and unserved:
        lines.append(f"waiting: {unserved}")
    if job.results is not None:
        shown = list(_flat_results(job.results))
        if not shown:
            lines.append("results: (empty)")
        else:
            lines.append("results:")
            lines += [f"  {key}: {short_value(value)}" for key, value in shown[:_MAX_RESULTS]]
            if len(shown) > _MAX_RESULTS:
                lines.append(f"  … {len(shown) - _MAX_RESULTS} more (status {job.job_id} --json)")
    return lines


_MAX_RESULTS = 20


def _flat_results(value: Any, prefix: str = "", depth: int = 0) -> Iterable[tuple[str, Any]]:
    """Non-empty results as ``(dotted.key, value)``; objects are opened up to three levels
    deep (``structured_data.data.extracted_text``) so their values are seen, not their keys."""
    for key, item in value.items():
        name = f"{prefix}{key}"
        if item in (None, [], {}, ""):
            continue
        if isinstance(item, dict) and depth < 2 and len(item) <= 12:
            yield from _flat_results(item, f"{name}.", depth + 1)
        else:
            yield name, item


def failed_jobs_lines(jobs: Iterable[Job], limit: int = 10) -> list[str]:
    """One line per failed job (at most ``limit``, then how many more)."""
    from ..model import JobStatus

    failed = [j for j in jobs if j.status is JobStatus.FAILED]
    lines = [
        f"  {j.job_id}  {j.job_type}  {j.error.code if j.error else '?'}: "
        f"{j.error.message if j.error else ''}"
        for j in failed[:limit]
    ]
    if len(failed) > limit:
        lines.append(f"  … and {len(failed) - limit} more (jobworker list --status failed)")
    return lines


def wait_ran_out(what: str, seconds: float, state: str, unserved: str | None) -> None:
    """Print the one line for a wait that ran out, and exit with :data:`EXIT_WAIT_RAN_OUT`."""
    line = f"{what} is still {state} after {seconds:g} s"
    if unserved:
        line += f": {unserved}; start a worker that serves it (jobworker run)"
    click.echo(line, err=True)
    raise SystemExit(EXIT_WAIT_RAN_OUT)


def batch_line(batch: Batch) -> str:
    return (
        f"batch {batch.batch_id}: {batch.completed_jobs} completed, {batch.failed_jobs} failed"
        f" of {batch.total_jobs}"
    )
