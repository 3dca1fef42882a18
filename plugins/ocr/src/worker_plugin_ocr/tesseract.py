"""Running the tesseract binary through pytesseract: environment, availability, languages.

Tesseract parallelises a page with OpenMP and oversubscribes the cores when several pages run at
once (about 1.4 s per A4 page at 300 dpi with ``OMP_THREAD_LIMIT=1``, 11-12 s without, measured
with two jobs on two cores). We therefore run every tesseract subprocess with
``OMP_THREAD_LIMIT=1`` and parallelise across processes instead. pytesseract passes its
module-level ``environ`` to ``subprocess.Popen``; we replace it with a live view of
``os.environ`` that overrides only that variable, so this process's own environment (and any
other OpenMP library loaded into it) is left alone.

pytesseract (which imports Pillow) is imported on first use (:func:`load_pytesseract`), so the
availability check and the language checks run at submit and at plugin load without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from jobworker import DependencyMissing, InvalidParameters

__all__ = [
    "KNOWN_LANGUAGES",
    "OMP_THREAD_LIMIT",
    "TesseractEnv",
    "installed_languages",
    "load_pytesseract",
    "parse_languages",
    "require_languages",
    "tesseract_cmd",
    "tesseract_unavailable_reason",
    "using_tesseract",
]

OMP_THREAD_LIMIT = "1"

# Language data names published for tesseract 4/5 (tessdata, tessdata_fast, tessdata_best),
# without ``osd`` (orientation detection, not a recognition language) and ``script/*`` models.
KNOWN_LANGUAGES: frozenset[str] = frozenset(
    {
        "afr",
        "amh",
        "ara",
        "asm",
        "aze",
        "aze_cyrl",
        "bel",
        "ben",
        "bod",
        "bos",
        "bre",
        "bul",
        "cat",
        "ceb",
        "ces",
        "chi_sim",
        "chi_sim_vert",
        "chi_tra",
        "chi_tra_vert",
        "chr",
        "cos",
        "cym",
        "dan",
        "deu",
        "deu_latf",
        "div",
        "dzo",
        "ell",
        "eng",
        "enm",
        "epo",
        "equ",
        "est",
        "eus",
        "fao",
        "fas",
        "fil",
        "fin",
        "fra",
        "frk",
        "frm",
        "fry",
        "gla",
        "gle",
        "glg",
        "grc",
        "guj",
        "hat",
        "heb",
        "hin",
        "hrv",
        "hun",
        "hye",
        "iku",
        "ind",
        "isl",
        "ita",
        "ita_old",
        "jav",
        "jpn",
        "jpn_vert",
        "kan",
        "kat",
        "kat_old",
        "kaz",
        "khm",
        "kir",
        "kmr",
        "kor",
        "kor_vert",
        "lao",
        "lat",
        "lav",
        "lit",
        "ltz",
        "mal",
        "mar",
        "mkd",
        "mlt",
        "mon",
        "mri",
        "msa",
        "mya",
        "nep",
        "nld",
        "nor",
        "oci",
        "ori",
        "pan",
        "pol",
        "por",
        "pus",
        "que",
        "ron",
        "rus",
        "san",
        "sin",
        "slk",
        "slv",
        "snd",
        "spa",
        "spa_old",
        "sqi",
        "srp",
        "srp_latn",
        "sun",
        "swa",
        "swe",
        "syr",
        "tam",
        "tat",
        "tel",
        "tgk",
        "tha",
        "tir",
        "ton",
        "tur",
        "uig",
        "ukr",
        "urd",
        "uzb",
        "uzb_cyrl",
        "vie",
        "yid",
        "yor",
    }
)

_LANG_SYNTAX = re.compile(r"^[a-z][a-z_]*(\+[a-z][a-z_]*)*$")
_lock = threading.Lock()


class TesseractEnv(Mapping[str, str]):
    """``os.environ`` as it is now, with ``OMP_THREAD_LIMIT`` forced (a live, read-only view)."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.overrides = dict(overrides or {"OMP_THREAD_LIMIT": OMP_THREAD_LIMIT})

    def _merged(self) -> dict[str, str]:
        return {**os.environ, **self.overrides}

    def __getitem__(self, key: str) -> str:
        return self._merged()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())


def load_pytesseract() -> Any:  # pytesseract has no type hints
    """``pytesseract.pytesseract``, imported on first use, with its ``environ`` replaced by a
    :class:`TesseractEnv` (pytesseract hands it to every Popen it makes: see the module
    docstring)."""
    import pytesseract.pytesseract as pt

    if not isinstance(pt.environ, TesseractEnv):
        pt.environ = TesseractEnv()
    return pt


def tesseract_cmd() -> str:
    """The tesseract command pytesseract runs (``pytesseract.pytesseract.tesseract_cmd``; its
    default, ``tesseract``, while pytesseract is not imported yet)."""
    pt: Any = sys.modules.get("pytesseract.pytesseract")
    return "tesseract" if pt is None else str(pt.tesseract_cmd)


class using_tesseract:  # noqa: N801 - used like a function: ``with using_tesseract(cmd):``
    """Run pytesseract with another binary inside the block (a setting, or a test)."""

    def __init__(self, cmd: str | None) -> None:
        self.cmd = cmd
        self._old: str | None = None

    def __enter__(self) -> None:
        if self.cmd:
            pt = load_pytesseract()
            _lock.acquire()
            self._old, pt.tesseract_cmd = pt.tesseract_cmd, self.cmd

    def __exit__(self, *_exc: object) -> None:
        if self.cmd:
            load_pytesseract().tesseract_cmd = self._old
            _lock.release()


def tesseract_unavailable_reason(cmd: str | None = None) -> str | None:
    """``None`` if the tesseract binary runs here, else why not (for ``JobHandler.check``)."""
    cmd = cmd or tesseract_cmd()
    path = shutil.which(cmd)
    if path is None:
        return (
            f"tesseract binary {cmd!r} not found on PATH "
            "(install Debian's tesseract-ocr with tesseract-ocr-eng/-deu)"
        )
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, timeout=30, env=TesseractEnv(), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"tesseract at {path} does not run: {exc}"
    if proc.returncode != 0:
        return f"tesseract at {path} exited with {proc.returncode}"
    return None


_installed: dict[str, frozenset[str]] = {}


def installed_languages(cmd: str | None = None) -> frozenset[str]:
    """Languages tesseract has data for (``tesseract --list-langs``), cached per binary.

    :raises DependencyMissing: the binary is missing or does not run.
    """
    cmd = cmd or tesseract_cmd()
    if cmd not in _installed:
        reason = tesseract_unavailable_reason(cmd)
        if reason:
            raise DependencyMissing(reason, details={"program": cmd})
        proc = subprocess.run(
            [cmd, "--list-langs"], capture_output=True, timeout=30, env=TesseractEnv(), check=False
        )
        langs = {line.strip() for line in proc.stdout.decode("utf-8", "replace").splitlines()[1:]}
        _installed[cmd] = frozenset(lang for lang in langs if _LANG_SYNTAX.match(lang)) - {"osd"}
    return _installed[cmd]


def parse_languages(languages: str) -> str:
    """Check the syntax and known names of ``eng``, ``deu``, ``eng+deu``...; return it normalised.

    :raises InvalidParameters: bad syntax or a name tesseract does not publish.
    """
    value = str(languages).strip().lower()
    if not _LANG_SYNTAX.match(value):
        raise InvalidParameters(
            f"languages must look like 'eng' or 'eng+deu', not {languages!r}",
            details={"languages": languages},
        )
    unknown = [lang for lang in value.split("+") if lang not in KNOWN_LANGUAGES]
    if unknown:
        raise InvalidParameters(
            f"unsupported OCR language(s): {', '.join(unknown)} "
            "(tesseract language codes such as eng, deu, fra)",
            details={"languages": languages, "unknown": unknown},
        )
    return value


def require_languages(languages: str, cmd: str | None = None) -> str:
    """:func:`parse_languages`, then require every language's data to be installed here.

    :raises InvalidParameters: see :func:`parse_languages`.
    :raises DependencyMissing: tesseract is missing, or a known language's data is not installed.
    """
    value = parse_languages(languages)
    have = installed_languages(cmd)
    missing = [lang for lang in value.split("+") if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise DependencyMissing(
            f"tesseract has no data for {', '.join(missing)} here (installed: "
            f"{', '.join(sorted(have)) or 'none'}); install e.g. {packages}",
            details={"missing": missing, "installed": sorted(have)},
        )
    return value
