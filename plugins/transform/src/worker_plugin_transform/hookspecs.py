"""The hooks worker-plugin-transform declares for other plugins (through ``register_hookspecs``)."""

from __future__ import annotations

from collections.abc import Callable

from jobworker import hookspec


@hookspec
def register_templates(register: Callable[[str, str], None]) -> None:
    """Hand over Jinja2 templates for ``worker-plugin-transform``: ``register(name, source)``.

    Templates render in a sandbox. Names are case-sensitive; a later registration of a name
    wins over the plugin's built-in template of that name.

    Example::

        @hookimpl
        def register_templates(register):
            register("Greeting", "# Hello {{ name }}\\n")
    """


@hookspec
def register_text_transformers(register: Callable[[str, Callable[..., str]], None]) -> None:
    """Hand over text-model providers for ``worker-plugin-transform``: ``register(name, fn)``.

    ``fn(text: str, *, instruction: str, context: dict) -> str``. A job chooses one with its
    ``transformer`` parameter; none ships with jobworker and none needs the network.

    Example::

        @hookimpl
        def register_text_transformers(register):
            register("upper", lambda text, instruction, context: text.upper())
    """
