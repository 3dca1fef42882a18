"""A real ``jobworker serve`` process on 127.0.0.1 for the server's tests, with API keys made
in its store and a worker process when jobs must run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from jobworker.store import open_store
from jobworker.store.apikeys import ApiKey
from procs import SUPPORT, jobworker_process

__all__ = ["Server", "free_port", "start_server", "store_url_for"]

LEGACY_KEY = "legacy-shared-secret"


def store_url_for(backend: str, folder: Path) -> str:
    """A fresh store of ``backend``: a SQLite file in ``folder``, or a new database on the
    MongoDB server that ``MONGO_URI`` names."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/jobs.db"
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["MONGO_URI"])
    return urlunsplit(parts._replace(path=f"/jwsrv_{uuid.uuid4().hex[:10]}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running server: ``url``, ``store_url``, ``tokens`` by scope name and an httpx
    client per token (``server.as_("admin").get(...)``)."""

    def __init__(self, proc: subprocess.Popen, url: str, store_url: str, cwd: Path) -> None:
        self.proc, self.url, self.store_url, self.cwd = proc, url, store_url, cwd
        self.tokens: dict[str, str] = {}
        self._clients: list[httpx.Client] = []
        self.worker: subprocess.Popen | None = None

    def make_key(self, name: str, *scopes: str) -> str:
        store = open_store(self.store_url)
        try:
            key, token = ApiKey.new(name, list(scopes))
            store.api_keys().add(key)
        finally:
            store.close()
        self.tokens[name] = token
        return token

    def as_(self, name: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def start_worker(self, *args: str) -> None:
        self.worker = jobworker_process(
            self.store_url, "run", "--concurrency", "4", *args, cwd=self.cwd
        )

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        for proc in (self.worker, self.proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def start_server(store_url: str, cwd: Path, *args: str, **env: str) -> Server:
    """``python -m jobworker --store URL --plugin testjobs serve --port N ARGS`` in ``cwd``,
    returned once ``/v1/health`` answers."""
    port = free_port()
    log = open(cwd / f"serve-{port}.log", "wb")  # noqa: SIM115 - kept open for the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobworker",
            "--store",
            store_url,
            "--plugin",
            "testjobs",
            "serve",
            "--port",
            str(port),
            *args,
        ],
        env={
            **os.environ,
            # the support modules first, then the caller's path (a checkout's core under test)
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])
            ),
            "JOBWORKER_PLUGINS": "",
            "SECRETARY_SERVICE_API_KEY": LEGACY_KEY,
            **env,
        },
        cwd=cwd,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError((cwd / f"serve-{port}.log").read_text()[-3000:])
        time.sleep(0.1)
    return Server(proc, url, store_url, cwd)


def read_events(response: Any, until: str = "end", limit: int = 500) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs from an SSE response, up to the ``until`` event."""
    import json

    out: list[tuple[str, Any]] = []
    event, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            out.append((event, json.loads("\n".join(data))))
            if event == until or len(out) >= limit:
                return out
            event, data = "message", []
    return out
