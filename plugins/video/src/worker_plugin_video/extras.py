"""The optional partners: worker-plugin-audio (transcription) and worker-plugin-ocr (slides).

Each is imported only when a job asks for it; when it is not installed the job fails with
:class:`~jobworker.DependencyMissing` naming the package to install.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from jobworker import DependencyMissing

from .frames import Thumbnail

__all__ = ["AUDIO_INSTALL", "OCR_INSTALL", "audio_api", "ocr_api", "slide_texts"]

AUDIO_INSTALL = "worker-plugin-audio[whisper]"
OCR_INSTALL = "worker-plugin-ocr"


def _import(module: str, install: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyMissing(
            f"{purpose} needs {install.split('[')[0]}, which is not installed: "
            f"pip install '{install}'",
            details={"install": f"pip install '{install}'", "missing": module, "error": str(exc)},
        ) from None


def audio_api() -> ModuleType:
    """``worker_plugin_audio.api``, or :class:`DependencyMissing` naming the package."""
    return _import("worker_plugin_audio.api", AUDIO_INSTALL, "transcription")


def ocr_api() -> ModuleType:
    """``worker_plugin_ocr.api``, or :class:`DependencyMissing` naming the package."""
    return _import("worker_plugin_ocr.api", OCR_INSTALL, "slide OCR")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def slide_texts(
    frames: Iterable[Thumbnail], languages: str = "eng", *, similarity: float = 0.9, ocr: Any = None
) -> list[dict[str, Any]]:
    """OCR each frame; consecutive frames with (nearly) the same text become one slide.

    :returns: ``[{"time", "text", "confidence", "frames"}]``, frames without text left out.
    """
    ocr = ocr or ocr_api()
    slides: list[dict[str, Any]] = []
    for frame in frames:
        page = ocr.ocr_image(frame.image, languages)
        text = page.text.strip()
        if not text:
            continue
        if (
            slides
            and difflib.SequenceMatcher(None, _norm(slides[-1]["text"]), _norm(text)).ratio()
            >= similarity
        ):
            slides[-1]["frames"] += 1
            continue
        slides.append(
            {"time": frame.time, "text": text, "confidence": page.confidence, "frames": 1}
        )
    return slides
