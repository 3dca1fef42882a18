"""The worker's own logs (not job logs): structlog, human-readable on a terminal, JSON lines
otherwise, always on stderr, with ``worker_id``, ``job_id`` and ``job_type`` bound where known.

A worker process (``jobworker run``) calls :func:`configure_logging` before it imports anything
that imports structlog, so structlog is imported without Rich: structlog imports Rich, when it
is installed, only to format tracebacks on a terminal (5-6 MiB of every worker process,
docs/benchmarks.md). Such tracebacks are still Rich's, the same as structlog's own formatter
draws them: Rich is imported when the first one is logged."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    import types

    from structlog.typing import Processor

    ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]

__all__ = ["configure_logging"]


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    """``json=None`` picks JSON unless stderr is a terminal (``JOBWORKER_LOG_JSON`` decides in
    the CLI)."""
    structlog = _import_structlog()
    if json is None:
        json = not sys.stderr.isatty()
    colors = sys.stderr.isatty()
    console: dict[str, Any] = {"colors": colors}
    if getattr(structlog.dev, "rich", None) is None and importlib.util.find_spec("rich"):
        console["exception_formatter"] = _rich_traceback("truecolor" if colors else None)
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(**console)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


def _import_structlog() -> Any:
    """structlog, imported without Rich if nothing imported it yet (Rich itself stays
    importable: it is hidden only while structlog's modules run)."""
    if "structlog" not in sys.modules and "rich" not in sys.modules:
        sys.modules["rich"] = None  # type: ignore[assignment]  # "import rich" fails meanwhile
        try:
            import structlog
        finally:
            del sys.modules["rich"]
    import structlog

    return structlog


def _rich_traceback(
    color_system: Literal["truecolor"] | None,
) -> Callable[[TextIO, ExcInfo], None]:
    """structlog's ``RichTracebackFormatter`` with its default options (``rich_traceback``, or
    ``rich_monochrome_traceback`` without colours), importing Rich on first use."""

    def render(sio: TextIO, exc_info: ExcInfo) -> None:
        from rich.console import Console
        from rich.traceback import Traceback

        sio.write("\n")
        console = Console(file=sio, color_system=color_system, width=None)
        console.print(
            Traceback.from_exception(
                *exc_info,
                show_locals=True,
                max_frames=100,
                theme=None,
                word_wrap=True,
                extra_lines=3,
                width=None,
                code_width=88,
                indent_guides=True,
                locals_max_length=10,
                locals_max_string=80,
                locals_hide_dunder=True,
                locals_hide_sunder=False,
                suppress=(),
            )
        )

    return render
