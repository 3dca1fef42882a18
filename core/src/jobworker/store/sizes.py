"""Size limits that keep every job document writable (MongoDB refuses documents over 16 MiB).

* A log message (and a progress message) is cut at ``log_message_max`` bytes of UTF-8
  (default 8 KiB, store option ``log_message_max``), with a note of how much was cut. Both
  stores apply it, so a job's logs read the same everywhere.
* A job keeps at most ``log_cap`` entries (default 1,000), so its logs hold at most
  ``log_cap * log_message_max`` bytes of messages (8 MiB by default); on MongoDB that product
  may not exceed :data:`LOG_BYTES_MAX`.
* On MongoDB, results larger than ``gridfs_threshold`` go to GridFS; what stays inline plus the
  logs plus :data:`RESERVE` (parameters are refused above 1 MiB at submit; error, progress and
  scheduling fields) must fit in :data:`DOCUMENT_MAX`. Settings that cannot fit are refused
  when the store is opened (:func:`check_budget`), not discovered by a failing write later.

A write that still cannot succeed (a document the old system made large, a server with a
smaller limit) fails that job with ``DOCUMENT_TOO_LARGE``; it never stops other jobs' writes.
"""

from __future__ import annotations

from .base import StoreError

__all__ = ["DOCUMENT_MAX", "LOG_BYTES_MAX", "LOG_MESSAGE_MAX", "RESERVE", "check_budget", "cut"]

DOCUMENT_MAX = 16 * 1024 * 1024
LOG_BYTES_MAX = 8 * 1024 * 1024
LOG_MESSAGE_MAX = 8 * 1024
RESERVE = 2 * 1024 * 1024
#: MongoDB server codes for a document or update that is too large (never fixed by a retry).
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (plus a short note), never mid-char."""
    if len(text) <= limit // 4:  # cannot be over the limit: 4 bytes per character at most
        return text
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}… [cut {len(data) - len(kept.encode('utf-8'))} bytes]"


def check_budget(log_cap: int, log_message_max: int, gridfs_threshold: int | None) -> None:
    """Refuse settings under which a job document could pass :data:`DOCUMENT_MAX`."""
    if log_message_max < 64:
        raise StoreError(f"log_message_max must be at least 64 bytes, not {log_message_max}")
    logs = max(0, log_cap) * log_message_max
    if gridfs_threshold is None:
        return
    if logs > LOG_BYTES_MAX:
        raise StoreError(
            f"log_cap {log_cap} x log_message_max {log_message_max} = {logs} bytes of logs per "
            f"job: more than {LOG_BYTES_MAX} would not fit in a 16 MiB MongoDB document"
        )
    if gridfs_threshold <= 0 or gridfs_threshold + logs + RESERVE > DOCUMENT_MAX:
        raise StoreError(
            f"gridfs_threshold {gridfs_threshold} cannot fit: results kept inline up to it, plus "
            f"{logs} bytes of logs (log_cap x log_message_max), plus {RESERVE} for parameters "
            f"and other fields must stay under {DOCUMENT_MAX} bytes (16 MiB); use at most "
            f"{DOCUMENT_MAX - logs - RESERVE}"
        )
