"""worker-plugin-wordstats: an example third-party jobworker plugin (job type ``wordstats``).

It counts the words, lines and most frequent words of a text file (or of inline text) and
writes a Markdown report. Read it as a template for your own plugin: the whole contract is the
``register_job_handlers`` hook below plus the entry point in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Callable

from jobworker import JobHandler, hookimpl

from .handler import WordStatsParams, handle_wordstats

__all__ = ["WordStatsParams", "handle_wordstats", "register_job_handlers"]
__version__ = "0.1.0"


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    """Hand the ``wordstats`` job type to jobworker."""
    register(
        JobHandler(
            "wordstats",
            handle_wordstats,
            params=WordStatsParams,
            executor="thread",  # plain Python that releases no GIL: a thread is enough
            concurrency=4,  # at most 4 wordstats jobs at once per worker process
            timeout=120,  # seconds per attempt
            max_attempts=2,
            description="Word, line and top-word counts of a text, as a Markdown report",
        )
    )
