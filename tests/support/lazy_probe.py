"""Run in a fresh interpreter by tests/test_plugin_laziness.py: what loading plugins imports.

``python lazy_probe.py load``: import what a worker imports, load every installed plugin as a
worker does (:meth:`Plugins.load`), then do what a client and ``jobworker plugins`` do without
running a job (call the ``register_*`` hooks, list the plugins and their checks, validate
parameters): ``heavy``, the libraries then imported; then the HTTP server's JSON schema of every
job type: ``server`` (imported by the server's own modules) and ``schemas`` (after building).

``python lazy_probe.py run TYPE PARAMS_JSON ROOT``: the same loading, then one job of ``TYPE``
through a real worker on a SQLite store under ``ROOT`` (input root ``ROOT``), its handler run
in this process (executor ``thread``) so that what it imports shows here. Prints the heavy
libraries imported before and after, and the job's status and error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

HEAVY = [
    "av",
    "numpy",
    "pypdf",
    "pypdfium2",
    "PIL",
    "pytesseract",
    "lxml",
    "jinja2",
    "yaml",
    "pydub",
]


def heavy() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


def load() -> dict[str, object]:
    import jobworker.worker  # noqa: F401 - what a worker process imports
    from jobworker.model import JobParameters
    from jobworker.plugins import Plugins
    from jobworker.validation import params_for

    plugins = Plugins.load()
    for hook in ("register_templates", "register_transcribers", "register_text_transformers"):
        plugins.collect(hook)
    listing = {i.name: i.as_dict() for i in plugins.listing()}
    valid = {
        "audio": {"file_path": "a.wav", "operations": ["metadata", "convert"], "bitrate": "96k"},
        "video": {"file_path": "v.mp4", "thumbnail_format": "jpg"},
        "pdf": {"file_path": "a.pdf", "languages": "eng+deu"},
        "ocr": {"file_path": "a.png", "languages": "eng", "output_formats": ["hocr"]},
        "transform": {"text": "Hi", "template_content": "{{ text }}"},
        "session": {"event": "E", "session": "S"},
    }
    for job_type, params in valid.items():
        params_for(plugins.handlers[job_type], JobParameters.from_dict(params))
    loaded = heavy()
    # The HTTP server imports Jinja2 and PyYAML itself (Litestar): count only what the schemas add.
    from jobworker.server.schemas import parameters_schema

    server = heavy()
    for job_type in plugins.job_types():
        handler = plugins.handlers[job_type]
        if handler.params is not None:
            parameters_schema(handler.params)
    return {
        "heavy": loaded,
        "server": server,
        "schemas": heavy(),
        "plugins": listing,
        "problems": [p.message for p in plugins.problems],
    }


def run(job_type: str, params: dict[str, object], root: Path) -> dict[str, object]:
    import attrs
    from jobworker.client import Client
    from jobworker.config import Settings
    from jobworker.plugins import Plugins
    from jobworker.store import open_store
    from jobworker.worker import Worker

    plugins = Plugins.load()
    for name, handler in list(plugins.handlers.items()):
        plugins.handlers[name] = attrs.evolve(handler, executor="thread")
    before = heavy()
    settings = Settings(
        store=f"sqlite:///{root / 'jobs.db'}", input_roots=[root], output_root=root / "out"
    )
    store = open_store(settings.store)
    try:
        job = Client(store, plugins, settings).submit(job_type, params, max_attempts=1)
        submitted = heavy()
        asyncio.run(Worker(store, plugins, settings, burst=True).run())
        done = Client(store, plugins, settings).get(job.job_id)
    finally:
        store.close()
    assert done is not None
    return {
        "before": before,
        "submitted": submitted,
        "after": heavy(),
        "status": done.status.value,
        "error": None if done.error is None else done.error.message,
    }


if __name__ == "__main__":
    if sys.argv[1] == "load":
        print(json.dumps(load()))
    else:
        print(json.dumps(run(sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4]))))
