"""The hooks worker-plugin-audio declares for other plugins (through ``register_hookspecs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobworker import hookspec


@hookspec
def register_transcribers(register: Callable[[str, Any], None]) -> None:
    """Hand over speech-to-text engines for ``worker-plugin-audio``.

    ``register(name, factory)``; ``factory(settings: dict)`` returns an object with
    ``transcribe(path, language=None) -> dict`` giving ``{"text", "language", "segments":
    [{"start", "end", "text"}]}``. The audio plugin picks an engine by its ``engine`` parameter.

    Example::

        @hookimpl
        def register_transcribers(register):
            register("echo", lambda settings: EchoTranscriber())
    """
