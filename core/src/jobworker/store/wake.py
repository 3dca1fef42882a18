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

    #: A listing taken this soon after the folder's last change is taken again at the next
    #: wake-up: a file system's change times are coarse (a clock tick of a few milliseconds),
    #: so another change within that tick would leave the time as it was.
    SETTLE_NS = 50_000_000
    #: Seconds during which the folder is not looked at again (a burst of submits costs one
    #: ``stat``), and during which a missing folder is taken as still missing.
    RECHECK = 0.001
    ABSENT_RECHECK = 0.05

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sock: socket.socket | None = None
        self._targets: list[str] = []
        self._seen: tuple[int, int] | None = None  # (the folder's mtime, when listed), in ns
        self._recheck_at = 0.0  # monotonic time of the next look at the folder

    def wake(self) -> None:
        """Send one datagram to every listening worker. The folder is listed again only when
        it changed (one ``stat`` per wake-up at most, none within 1 ms of the last), so a
        worker that just started is reached by the next wake-up. A folder that does not
        exist yet (no worker has listened here) is looked for again after 50 ms; a worker's
        own first claim finds what was submitted before it listened."""
        targets = self._listening()
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
                self._seen, self._recheck_at = None, 0.0
            except OSError:
                pass

    def _listening(self) -> list[str]:
        now = time.monotonic()
        if now < self._recheck_at:
            return self._targets
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except OSError:  # no worker has listened here yet
            self._targets, self._seen = [], None
            self._recheck_at = now + self.ABSENT_RECHECK
            return []
        self._recheck_at = now + self.RECHECK
        seen = self._seen
        if seen is None or seen[0] != mtime or seen[1] - mtime < self.SETTLE_NS:
            try:
                names = os.listdir(self.directory)
            except OSError:
                names = []
            self._targets = [os.path.join(self.directory, n) for n in names if n.endswith(".sock")]
            self._seen = (mtime, time.time_ns())
        return self._targets

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
