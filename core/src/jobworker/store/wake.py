"""Waking idle workers of one machine: a Unix datagram socket per worker in a folder per
database; a commit that makes work available sends one byte to each."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from pathlib import Path

__all__ = ["WakeSocket", "Waker"]


class Waker:
    """The sending side (any process that submits, cancels or retries)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sock: socket.socket | None = None
        self._targets: tuple[float, list[str]] = (0.0, [])

    def wake(self) -> None:
        """Send one datagram to every listening worker (the list is re-read at most every
        0.5 s, so a worker that just started is reached by its own first claim instead)."""
        stamp, targets = self._targets
        if time.monotonic() - stamp > 0.5:
            try:
                targets = [str(p) for p in self.directory.glob("*.sock")]
            except OSError:
                targets = []
            self._targets = (time.monotonic(), targets)
        if not targets:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        for target in targets:
            try:
                self._sock.sendto(b"!", target)
            except BlockingIOError:
                pass  # its queue is full: it has wake-ups waiting already
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(target)  # a worker that died without cleaning up
                self._targets = (0.0, [])
            except OSError:
                pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


class WakeSocket:
    """A worker's end of the wake-up channel: readable when something may be waiting."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self.sock.recv(64):
                pass

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
