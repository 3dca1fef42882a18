"""A worker running in a thread of the test process until stopped."""

from __future__ import annotations

import asyncio
import threading


class Background:
    """A worker running in a thread until stopped."""

    def __init__(self, harness, **kwargs):
        self.worker = harness.worker(**kwargs)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()))
        self.thread.start()
        assert self.ready.wait(10)

    async def _main(self):
        self.loop = asyncio.get_running_loop()
        self.ready.set()
        await self.worker.run()

    def stop(self, immediate=False):
        if not self.thread.is_alive():  # stopped already
            return
        self.loop.call_soon_threadsafe(self.worker.request_stop, immediate)
        self.thread.join(30)
        assert not self.thread.is_alive()
