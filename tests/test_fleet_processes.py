"""A fleet of different workers as real processes, on SQLite and on the MongoDB test server:
routing by installed plugins, the registry (``jobworker workers``), unknown types failing only
when the fleet does not serve them, a SIGKILLed worker, and plugins installed while running."""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
import uuid
import wave
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from jobworker import Client, connect, errors
from jobworker.model import Job, JobStatus
from jobworker.testing import make_plugins
from procs import wait_until

SUPPORT = Path(__file__).parent / "support"


@pytest.fixture
def url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/fleet.db"
        return
    parts = urlsplit(os.environ["MONGO_URI"])
    yield urlunsplit(parts._replace(path=f"/jwfleet_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def client(url):
    c = connect(url, plugins=make_plugins([]))
    yield c
    drop = getattr(c.store, "drop_database", None)
    if drop:
        drop()
    c.close()


class Fleet:
    """Worker processes started for one test, stopped (or killed) at its end."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url, self.cwd = url, cwd
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self, plugins: str | None, pythonpath: str = "") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, str(SUPPORT)) if p)
        if plugins is not None:
            env["JOBWORKER_PLUGINS"] = plugins
        return env

    def start(
        self,
        worker_id: str,
        *args: str,
        plugins: str | None = "",
        modules: tuple[str, ...] = (),
        pythonpath: str = "",
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "jobworker", "--store", self.url]
        for module in modules:
            command += ["--plugin", module]
        command += ["run", "--worker-id", worker_id, "--lease-seconds", "1", *args]
        log = open(self.cwd / f"{worker_id}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env(plugins, pythonpath),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, plugins: str | None = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobworker", "--store", self.url, *args],
            cwd=self.cwd,
            env=self.env(plugins),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def fleet(url, tmp_path):
    f = Fleet(url, tmp_path)
    yield f
    f.stop()


def live(client: Client) -> dict[str, set[str]]:
    return {r.worker_id: set(r.types) for r in client.workers()}


def started_on(client: Client, job_id: str) -> str:
    job = client.get(job_id)
    return next(e.message.split()[-1] for e in job.logs if "started on" in e.message)


def make_inputs(folder: Path) -> tuple[Path, Path]:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="Quarterly fleet report")
    pdf_path = folder / "report.pdf"
    pdf.output(str(pdf_path))
    wav_path = folder / "tone.wav"
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000)))
                for i in range(8000)
            )
        )
    return pdf_path, wav_path


def test_workers_with_different_plugins_share_a_mixed_batch(client, fleet, tmp_path):
    pytest.importorskip("worker_plugin_pdf")
    pytest.importorskip("worker_plugin_audio")
    pdf_path, wav_path = make_inputs(tmp_path)
    fleet.start("worker-pdf", plugins="worker-plugin-pdf")
    fleet.start("worker-audio", plugins="worker-plugin-audio")
    wait_until(lambda: len(live(client)) == 2, 60)
    jobs = [
        {"job_type": "pdf", "parameters": {"file_path": str(pdf_path)}},
        {
            "job_type": "audio",
            "parameters": {"file_path": str(wav_path), "operations": ["metadata"]},
        },
    ] * 3
    batch = client.submit_batch(jobs, allow_unknown_type=True)
    done = client.wait_batch(batch.batch_id, timeout=180)
    assert (done.completed_jobs, done.failed_jobs) == (6, 0)
    for job in client.list(batch_id=batch.batch_id):
        assert job.status is JobStatus.COMPLETED, job.error
        assert started_on(client, job.job_id) == f"worker-{job.job_type}"

    # `jobworker workers --json` shows both workers with their types and counts.
    shown = fleet.cli("workers", "--json")
    assert shown.returncode == 0, shown.stderr
    by_id = {w["worker_id"]: w for w in json.loads(shown.stdout)}
    assert set(by_id) == {"worker-pdf", "worker-audio"}
    assert "pdf" in by_id["worker-pdf"]["types"] and "audio" not in by_id["worker-pdf"]["types"]
    assert "audio" in by_id["worker-audio"]["types"] and "pdf" not in by_id["worker-audio"]["types"]
    assert by_id["worker-audio"]["types"]["audio"] == 1  # the handler's own concurrency
    assert {p["distribution"] for p in by_id["worker-pdf"]["plugins"]} >= {"worker-plugin-pdf"}
    assert all(w["state"] == "live" and w["pid"] > 0 for w in by_id.values())
    wait_until(
        lambda: (
            {r.worker_id: r.processed for r in client.workers()}
            == {"worker-pdf": 3, "worker-audio": 3}
        ),
        30,
    )

    # A clean exit marks the record stopped: the worker leaves the live fleet at once.
    fleet.stop()
    assert client.workers() == []
    assert {r.state(r.stopped_at) for r in client.workers(include_gone=True)} == {"stopped"}


def test_unknown_type_fails_at_once_if_never_served_and_after_the_grace_if_its_worker_died(
    client, fleet, tmp_path
):
    (tmp_path / "rarejobs.py").write_text(
        "from jobworker import JobHandler, hookimpl\n\n"
        "async def rare(ctx):\n    return {'structured_data': {'ok': True}}\n\n"
        "@hookimpl\ndef register_job_handlers(register):\n"
        "    register(JobHandler('rare', rare))\n"
    )
    grace = 3.0
    rare = fleet.start("worker-rare", modules=("rarejobs",), pythonpath=str(tmp_path))
    fleet.start("worker-main", "--unknown-type-grace", str(grace), modules=("testjobs",))
    wait_until(lambda: len(live(client)) == 2, 60)
    served = client.submit("rare", {}, allow_unknown_type=True)
    assert client.wait(served.job_id, timeout=60).status is JobStatus.COMPLETED

    # A typo: no worker ever served it, so it fails at the next sweep, without an attempt.
    typo = client.submit("noop_typo", {}, allow_unknown_type=True)
    failed = client.wait(typo.job_id, timeout=60)
    assert (failed.status, failed.error.code, failed.attempts) == (
        JobStatus.FAILED,
        errors.UNKNOWN_JOB_TYPE,
        0,
    )
    assert "no worker has served it" in failed.error.message
    served = failed.error.message.split("live workers serve: ")[1].split(", ")
    assert {"async", "noop", "rare"} <= set(served) and served == sorted(served)

    # The only worker serving "rare" dies: its jobs wait for the grace, then fail.
    rare.send_signal(signal.SIGKILL)
    rare.wait()
    [last] = [r for r in client.workers() if r.worker_id == "worker-rare"]
    orphan = client.submit("rare", {}, allow_unknown_type=True)
    wait_until(lambda: "worker-rare" not in live(client), 30)  # 3 lease lengths without a beat
    status = fleet.cli("status", orphan.job_id)
    if client.get(orphan.job_id).status is JobStatus.PENDING:
        assert "waiting: no live worker serves job type 'rare'" in status.stdout
    failed = client.wait(orphan.job_id, timeout=60)
    assert failed.error.code == errors.UNKNOWN_JOB_TYPE and failed.attempts == 0
    assert "last served by worker-rare, dead" in failed.error.message
    assert (failed.completed_at - last.heartbeat_at).total_seconds() >= grace


def test_sigkilled_worker_leaves_the_fleet_and_its_job_is_finished_by_another(
    client, fleet, tmp_path
):
    record = tmp_path / "record"
    victim = fleet.start("worker-victim", modules=("testjobs",))
    wait_until(lambda: "worker-victim" in live(client), 60)
    job = client.submit(
        "async", {"sleep": 2, "record": str(record)}, allow_unknown_type=True, max_attempts=3
    )
    wait_until(lambda: record.exists(), 60)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    fleet.start("worker-heir", modules=("testjobs",))
    done = client.wait(job.job_id, timeout=90)
    assert done.status is JobStatus.COMPLETED and done.attempts == 2
    assert started_on(client, job.job_id) == "worker-heir"
    wait_until(lambda: set(live(client)) == {"worker-heir"}, 30)
    shown = json.loads(fleet.cli("workers", "--json").stdout)
    assert [w["worker_id"] for w in shown] == ["worker-heir"]
    gone = json.loads(fleet.cli("workers", "--json", "--all").stdout)
    assert {w["worker_id"]: w["state"] for w in gone} == {
        "worker-victim": "dead",
        "worker-heir": "live",
    }


def test_plugin_installed_while_a_worker_runs_is_served_without_restart(tmp_path):
    """`jobworker install` tells the local workers (SIGHUP); the timer is off here."""
    url = f"sqlite:///{tmp_path}/fleet.db"
    fleet = Fleet(url, tmp_path)
    made = fleet.cli("plugin", "new", "fleetcount", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    (tmp_path / "jobworker.toml").write_text("[worker]\nplugin_check_interval = 0\n")
    client = connect(url, plugins=make_plugins([]))
    worker = fleet.start("worker-hot", plugins="worker-plugin-fleetcount")
    try:
        wait_until(lambda: "worker-hot" in live(client), 60)
        assert "fleetcount" not in live(client)["worker-hot"]
        installed = fleet.cli("install", "--no-deps", str(tmp_path / "worker-plugin-fleetcount"))
        assert installed.returncode == 0, installed.stderr
        assert "asked 1 running worker(s) to reload plugins: worker-hot" in installed.stdout
        wait_until(lambda: "fleetcount" in live(client).get("worker-hot", ()), 60)
        job = client.submit("fleetcount", {"name": "fleet"}, allow_unknown_type=True)
        done = client.wait(job.job_id, timeout=60)
        assert done.status is JobStatus.COMPLETED, done.error
        assert started_on(client, job.job_id) == "worker-hot" and worker.poll() is None
        [record] = client.workers()
        assert ("worker-plugin-fleetcount", "0.1.0") in {
            (p.distribution, p.version) for p in record.plugins
        }

        removed = fleet.cli("uninstall", "-y", "worker-plugin-fleetcount")
        assert removed.returncode == 0 and "asked 1 running worker(s)" in removed.stdout
        wait_until(lambda: "fleetcount" not in live(client)["worker-hot"], 60)
        assert worker.poll() is None
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "worker-plugin-fleetcount"],
            capture_output=True,
        )
        fleet.stop()
        client.close()


def test_worker_notices_a_plugin_installed_by_plain_pip_on_its_timer(tmp_path):
    """A real `pip install --target` into a folder on the worker's path, no signal at all."""
    url = f"sqlite:///{tmp_path}/fleet.db"
    fleet = Fleet(url, tmp_path)
    assert fleet.cli("plugin", "new", "fleettimer", "--dir", str(tmp_path)).returncode == 0
    (tmp_path / "jobworker.toml").write_text("[worker]\nplugin_check_interval = 0.5\n")
    site = tmp_path / "site"
    site.mkdir()
    client = connect(url, plugins=make_plugins([]))
    try:
        fleet.start("worker-timer", plugins="worker-plugin-fleettimer", pythonpath=str(site))
        wait_until(lambda: "worker-timer" in live(client), 60)
        pip = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "-q", "--no-deps"),
                *("--target", str(site), str(tmp_path / "worker-plugin-fleettimer")),
            ],
            capture_output=True,
            text=True,
        )
        assert pip.returncode == 0, pip.stderr
        job = client.submit("fleettimer", {"name": "timer"}, allow_unknown_type=True)
        done = client.wait(job.job_id, timeout=60)
        assert done.status is JobStatus.COMPLETED, done.error
        assert started_on(client, job.job_id) == "worker-timer"
    finally:
        fleet.stop()
        client.close()


def test_two_idle_processes_of_one_supervisor_share_a_burst_of_jobs(tmp_path):
    """Issue 13 (one process ran 200 jobs, the other 20): a burst wakes both idle processes and
    each claims only its free slots. Every job waits until the test releases it, so what each
    process holds is counted while nothing can finish: exactly its 8 (``--concurrency``), round
    after round, whatever else the machine is doing (no race of short jobs decides the split).
    The idle poll is an hour: only the burst's wake-up or a finished job makes a process claim.
    """
    url = f"sqlite:///{tmp_path}/fleet.db"
    gate = tmp_path / "gate"
    gate.mkdir()
    fleet = Fleet(url, tmp_path)
    client = connect(url, plugins=make_plugins([]))
    try:
        fleet.start(
            "supervised",
            *("--processes", "2", "--concurrency", "8", "--poll-interval", "3600"),
            *("--lease-seconds", "30"),  # held jobs keep their leases on a loaded machine
            *("--prefetch-multiplier", "1"),  # claiming ahead: tests/test_prefetch.py
            modules=("testjobs",),
        )
        wait_until(lambda: len(client.workers()) == 2, 60)
        batch = client.submit_batch(
            [{"job_type": "async", "parameters": {"gate": str(gate)}} for _ in range(200)],
            allow_unknown_type=True,
        )
        released: set[str] = set()
        ran: Counter[str] = Counter()
        while len(released) < 200:
            left = 200 - len(released)

            def settled(left: int = left) -> list[Job] | None:
                running = client.list(status="processing", batch_id=batch.batch_id, limit=300)
                if {j.job_id for j in running} & released or len(running) < min(16, left):
                    return None  # the last release is not written yet, or not claimed again
                return running

            running = wait_until(settled, 60)
            held = Counter(j.lease_owner for j in running)
            if left >= 16:  # each process holds exactly its free slots; none is left idle
                assert sorted(held.values()) == [8, 8], (len(released), held)
            else:
                assert len(running) == left, (len(released), held)
            ran.update(held)
            for job in running:
                (gate / job.job_id).touch()
                released.add(job.job_id)
        client.wait_batch(batch.batch_id, timeout=120)
        assert client.counts(batch_id=batch.batch_id).get("completed") == 200
        assert sum(ran.values()) == 200 and min(ran.values()) >= 96, ran
    finally:
        fleet.stop()
        client.close()
