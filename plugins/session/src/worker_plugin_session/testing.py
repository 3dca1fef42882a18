"""Fixture makers for tests and benchmarks of session jobs (and of plugins reusing them).

Everything is generated on the spot: a session page (HTML), a PDF slide deck (fpdf2, a test
dependency), and a local HTTP server on 127.0.0.1 serving a directory. Talk videos come from
``worker_plugin_video.testing.make_video`` with ``worker_plugin_audio.testing.speech_wav``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["LOCAL", "PAGE_TEXT", "SLIDES", "serve_directory", "session_page", "slide_deck"]

PAGE_TEXT = "Cities publish their budgets as open data so that citizens can follow spending."
SLIDES = ("Budget transparency in practice", "Open portals and their users")
#: session settings that allow the local test server and nothing else
LOCAL = {"allowed_hosts": ["127.0.0.1"], "allow_private": ["127.0.0.1/32"]}


class _Quiet(SimpleHTTPRequestHandler):
    seen: list[str] | None = None

    def do_GET(self) -> None:
        if self.seen is not None:
            self.seen.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def session_page(title: str, text: str = PAGE_TEXT) -> str:
    """A session page: navigation, the title and ``text`` in ``<main>``, a footer."""
    return (
        f"<!doctype html><html><head><title>{title}</title><script>var t = 1;</script>"
        f"</head><body><nav><a href='/'>Programme</a></nav><main><h1>{title}</h1>"
        f"<p>{text}</p></main><footer>Imprint</footer></body></html>"
    )


def slide_deck(path: Path, slides: Sequence[str] = SLIDES) -> Path:
    """A landscape PDF with one line of text per page (needs fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L")
    pdf.set_font("Helvetica", size=28)
    for text in slides:
        pdf.add_page()
        pdf.cell(text=text)
    pdf.output(str(path))
    return path


@contextlib.contextmanager
def serve_directory(root: Path, requests: list[str] | None = None) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 (a free port); yields the base URL.

    :param requests: if given, the path of every GET request is appended to it.
    """
    handler = type("Handler", (_Quiet,), {"seen": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
