"""HTTP benchmark of ``jobworker serve`` beside the Python client, on one SQLite store.

Measures, over loopback with one keep-alive HTTP connection (sequential requests): single
submits per second (``POST /v1/jobs``), batch submits (``POST /v1/batches``, 100 jobs each) in
jobs per second, and status reads per second (``GET /v1/jobs/{id}``), each with p50/p99
latency; then the same three with the Python client (``Client.submit``, ``submit_batch``,
``get``) in this process. No worker runs: jobs stay pending. Usage::

    .venv/bin/python bench/bench_http.py [--n 1000] [--out docs/benchmarks.md]

With ``--out``, replaces the section between ``<!-- bench_http -->`` and ``<!-- /bench_http -->``.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jobworker import connect  # noqa: E402
from jobworker.store.apikeys import ApiKey  # noqa: E402
from jobworker.testing import make_plugins  # noqa: E402

BATCH = 100


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(n: int, call: Callable[[int], object]) -> tuple[float, float, float]:
    """``(calls/s, p50 ms, p99 ms)`` of ``n`` sequential calls."""
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return n / elapsed, latencies[n // 2] * 1000, latencies[min(n - 1, n * 99 // 100)] * 1000


def run(n: int) -> dict[str, tuple[float, float, float]]:
    import benchjobs

    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    url = f"sqlite:///{tmp}/jobs.db"
    client = connect(url, plugins=make_plugins([benchjobs]))
    key, token = ApiKey.new("bench", ["admin"])
    client.api_keys().add(key)
    port = _port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "JOBWORKER_PLUGINS": "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobworker",
            "--store",
            url,
            "--plugin",
            "benchjobs",
            "serve",
            "--port",
            str(port),
            "--rate",
            "0",
        ],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, tuple[float, float, float]] = {}
    try:
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        job = {"job_type": "bench.noop", "parameters": {}}
        ids: list[str] = []

        def http_submit(_: int) -> None:
            response = http.post("/v1/jobs", json=job)
            response.raise_for_status()
            ids.append(response.json()["job_id"])

        batch = {"jobs": [job] * BATCH}
        for _ in range(20):  # warm up
            http.get("/v1/health")
        results["http submit"] = timed(n, http_submit)
        rate, p50, p99 = timed(max(1, n // BATCH), lambda _: http.post("/v1/batches", json=batch))
        results["http batch"] = (rate * BATCH, p50, p99)
        results["http read"] = timed(n, lambda i: http.get(f"/v1/jobs/{ids[i % len(ids)]}"))
        http.close()

        local_ids: list[str] = []
        results["client submit"] = timed(
            n, lambda _: local_ids.append(client.submit("bench.noop", {}).job_id)
        )
        specs = [{"job_type": "bench.noop", "parameters": {}}] * BATCH
        rate, p50, p99 = timed(max(1, n // BATCH), lambda _: client.submit_batch(specs))
        results["client batch"] = (rate * BATCH, p50, p99)
        results["client read"] = timed(n, lambda i: client.get(local_ids[i % len(local_ids)]))
    finally:
        server.terminate()
        server.wait(10)
        client.close()
    return results


def report(results: dict[str, tuple[float, float, float]], n: int) -> str:
    import sqlite3

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, load average at start "
        f"{os.getloadavg()[0]:.2f}.",
        f"Command: `.venv/bin/python bench/bench_http.py --n {n}` (one client, sequential "
        f"requests on one keep-alive connection; batches of {BATCH}; no worker running).",
        "",
        "| operation | HTTP (`jobworker serve`) | p50 / p99 ms | Python client | p50 / p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in (
        ("submit one job (jobs/s)", "submit"),
        (f"submit a batch of {BATCH} (jobs/s)", "batch"),
        ("read one job's status (reads/s)", "read"),
    ):
        h, c = results[f"http {key}"], results[f"client {key}"]
        lines.append(
            f"| {label} | {h[0]:,.0f} | {h[1]:.2f} / {h[2]:.2f} | {c[0]:,.0f} | "
            f"{c[1]:.2f} / {c[2]:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(run(args.n), args.n)
    print(text)
    if args.out:
        doc = args.out.read_text() if args.out.exists() else ""
        start, end = "<!-- bench_http -->", "<!-- /bench_http -->"
        if start in doc and end in doc:
            doc = doc[: doc.index(start) + len(start)] + "\n" + text + doc[doc.index(end) :]
        else:
            doc += f"\n{start}\n{text}{end}\n"
        args.out.write_text(doc)


if __name__ == "__main__":
    main()
