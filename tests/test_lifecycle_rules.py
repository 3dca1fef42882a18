"""Property tests of the lifecycle rules (:mod:`jobworker.lifecycle`), pure: no store.

The stores translate these decisions into their writes; the store contract suite and the
stateful test check that they do, on both backends.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st
from jobworker import errors, lifecycle
from jobworker.lifecycle import Backoff, Outcome
from jobworker.model import Job, JobError, JobParameters, JobProgress, JobStatus, utcnow

NOW = utcnow()
attempts_st = st.integers(0, 30)
units = st.floats(0, 1, exclude_max=True)
bases = st.floats(0, 600, allow_nan=False)
progress_st = st.none() | st.builds(JobProgress, st.text(max_size=5), st.integers(0, 100))
error_st = st.builds(JobError, st.sampled_from(["E", errors.HANDLER_ERROR]), st.text(max_size=8))


def processing_job(attempts: int, max_attempts: int) -> Job:
    job = Job("t", JobParameters(), attempts=attempts, max_attempts=max_attempts)
    return lifecycle.apply(lifecycle.claimed("w", 30, NOW), job)


@given(bases, attempts_st, units, st.sampled_from([None, "t", "other"]))
def test_backoff_is_exponential_with_equal_jitter(base, attempts, u, job_type):
    backoff = Backoff(base, {"t": base * 3})
    full = (base * 3 if job_type == "t" else base) * 2 ** max(0, attempts - 1)
    delay = backoff.delay(job_type, attempts, lambda: u)
    assert full / 2 <= delay <= full
    # More attempts never wait less (same draw).
    assert backoff.delay(job_type, attempts + 1, lambda: u) >= delay


@given(attempts_st, st.integers(1, 30), st.booleans(), bases, units, progress_st, error_st)
def test_retry_or_fail(attempts, max_attempts, retryable, base, u, progress, error):
    out = lifecycle.after_failure(
        "j",
        "w",
        job_type="t",
        attempts=attempts,
        max_attempts=max_attempts,
        error=error,
        retryable=retryable,
        backoff=Backoff(base),
        now=NOW,
        progress=progress,
        rng=lambda: u,
    )
    assert out.error == error and out.progress == progress
    if retryable and attempts < max_attempts:
        assert out.kind == "retry"
        assert out.available_at == NOW + timedelta(
            seconds=Backoff(base).delay("t", attempts, lambda: u)
        )
    else:
        assert out.kind == "failed" and out.available_at is None


@given(attempts_st, st.integers(1, 30), st.none() | st.text(min_size=1, max_size=5), units)
def test_lease_expiry_is_a_retryable_worker_lost_with_the_same_backoff(
    attempts, max_attempts, owner, u
):
    backoff = Backoff(2.0, {"t": 7.0})
    out = lifecycle.lease_expired(
        "j",
        owner,
        job_type="t",
        attempts=attempts,
        max_attempts=max_attempts,
        backoff=backoff,
        now=NOW,
        rng=lambda: u,
    )
    same = lifecycle.after_failure(
        "j",
        owner or "",
        job_type="t",
        attempts=attempts,
        max_attempts=max_attempts,
        error=lifecycle.worker_lost(owner, attempts),
        retryable=True,
        backoff=backoff,
        now=NOW,
        rng=lambda: u,
    )
    assert out == same
    assert out.error is not None and out.error.code == errors.WORKER_LOST
    assert out.error.details == {"lease_owner": owner, "attempt": attempts}


@given(
    attempts_st,
    st.sampled_from(["completed", "failed", "retry", "release"]),
    progress_st,
    progress_st,
    st.none() | error_st,
)
def test_outcomes(attempts, kind, stored, reported, error):
    job = processing_job(attempts, 5)
    assert job.attempts == attempts + 1 and job.status is JobStatus.PROCESSING
    job = attrs.evolve(job, progress=stored)
    later = NOW + timedelta(seconds=3)
    out = Outcome(job.job_id, "w", kind, {"r": 1}, error, later, reported)
    change = lifecycle.outcome_change(out, NOW)
    after = lifecycle.apply(change, job)
    assert after.status is change.status
    assert after.lease_owner is None and after.lease_expires_at is None  # lease dropped
    assert after.updated_at == NOW
    if kind == "completed":
        assert after.results == {"r": 1} and after.error is None
        assert after.progress is not None and after.progress.percent == 100
    if kind == "failed":
        assert after.error == error
        # The last percent is kept: the reported one, else the stored one, else 0.
        last = reported or stored
        assert after.progress is not None and after.progress.step == "error"
        assert after.progress.percent == (last.percent if last else 0)
    if change.status.terminal:
        assert after.completed_at == NOW and after.announce_pending
        assert after.attempts == job.attempts
    else:
        assert after.available_at == later and not after.announce_pending
        assert after.progress == stored  # a retry keeps what the attempt reached
    if kind == "retry":
        assert after.error == error and after.attempts == job.attempts
    if kind == "release":  # not charged
        assert after.attempts == attempts


@given(progress_st, st.booleans())
def test_cancel_keeps_the_last_percent(progress, running):
    job = Job("t", JobParameters(), progress=progress)
    if running:
        job = lifecycle.apply(lifecycle.claimed("w", 30, NOW), job)
        after = lifecycle.apply(lifecycle.cancel_requested(NOW), job)
        assert after.status is JobStatus.PROCESSING and after.cancel_requested
        return
    after = lifecycle.apply(lifecycle.cancelled_pending(NOW), job)
    assert after.status is JobStatus.FAILED and after.cancel_requested
    assert after.error is not None and after.error.code == errors.CANCELLED
    assert after.progress is not None
    assert after.progress.percent == (progress.percent if progress else 0)
    assert after.announce_pending


@given(attempts_st, st.integers(-3, 10))
def test_retry_by_hand_keeps_counting(attempts, budget):
    job = Job("t", JobParameters(), status=JobStatus.FAILED, attempts=attempts)
    job = attrs.evolve(job, error=JobError("E", "e"), results={"x": 1}, announce_pending=True)
    after = lifecycle.apply(lifecycle.retried_by_hand(attempts, budget, NOW), job)
    assert after.status is JobStatus.PENDING and after.attempts == attempts
    assert after.max_attempts == attempts + max(1, budget)
    assert after.error is None and after.results is None and after.progress is None
    assert not after.announce_pending and not after.cancel_requested
    claimed = lifecycle.apply(lifecycle.claimed("w", 1, NOW), after)
    assert claimed.attempts == attempts + 1  # truthfully numbered


statuses = st.sampled_from(["pending", "processing", "completed", "failed"])
moves_st = st.lists(st.tuples(st.sampled_from(["a", "b", None]), statuses, statuses), max_size=20)


@given(moves_st)
def test_counter_moves_conserve_jobs(moves):
    deltas = lifecycle.counter_deltas(moves)
    for batch_id, delta in deltas.items():
        assert batch_id is not None
        assert sum(delta.values()) == 0 and all(delta.values())
    for batch_id in ("a", "b"):
        arrived = sum(1 for b, s, d in moves if b == batch_id and s != d)
        moved = deltas.get(batch_id, {})
        assert sum(n for n in moved.values() if n > 0) <= arrived


@st.composite
def batch_states(draw):
    counts = draw(st.lists(st.integers(0, 5), min_size=4, max_size=4))
    names = ["pending_jobs", "processing_jobs", "completed_jobs", "failed_jobs"]
    return dict(zip(names, counts, strict=True))


@given(batch_states(), st.lists(st.tuples(statuses, statuses), max_size=8))
def test_a_batch_finishes_once_and_reopens_when_jobs_come_back(counters, moves):
    """Replay moves through the counters and the verdicts: the batch is completed exactly when
    every job ended (counted by a move into an end state), and finishes once per ending."""
    total = sum(counters.values())
    status = "processing"
    finishes = 0
    for src, dst in moves:
        if counters[lifecycle.COUNTER[src]] == 0:
            continue  # no job in that state to move
        delta = lifecycle.counter_deltas([("b", src, dst)]).get("b", {})
        for name, n in delta.items():
            counters[name] += n
        verdict = lifecycle.batch_verdict(
            delta, status, counters["completed_jobs"], counters["failed_jobs"], total
        )
        if verdict == "finish":
            status, finishes = "completed", finishes + 1
        elif verdict == "reopen":
            status = "processing"
        ended = counters["completed_jobs"] + counters["failed_jobs"] == total
        moved_end = any(delta.get(n) for n in ("completed_jobs", "failed_jobs"))
        if moved_end:
            assert (status == "completed") == ended
    assert finishes <= 1 + sum(1 for s, _ in moves if s in ("completed", "failed"))


@given(statuses, st.integers(0, 5), st.integers(0, 5), st.integers(0, 10))
def test_claims_never_finish_a_batch(status, completed, failed, total):
    delta = lifecycle.counter_deltas([("b", "pending", "processing")])["b"]
    assert lifecycle.batch_verdict(delta, status, completed, failed, total) is None


@given(st.one_of(st.none(), st.text(max_size=3), st.booleans(), st.integers(-5, 5)))
def test_unreadable_counters_count_as_zero(value):
    delta = {"completed_jobs": 1, "processing_jobs": -1}
    expected = value if isinstance(value, int) and not isinstance(value, bool) else 0
    verdict = lifecycle.batch_verdict(delta, "processing", value, 0, 0)
    assert verdict == ("finish" if expected >= 0 else None)
