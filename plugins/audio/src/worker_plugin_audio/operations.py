"""A job's ``operations`` parameter: the names of the steps to run, given as a list
(``["metadata", "convert"]``) or as a comma-separated string (``"metadata,convert"``, e.g. from
``jobworker submit -p operations=metadata,convert``).

Shared by the parameters classes of the audio plugin and of the video plugin
(:mod:`worker_plugin_video.params`). Light on purpose (no PyAV, no NumPy): parameters classes
are imported whenever the plugins load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Operations"]


@attrs.frozen
class Operations:
    """The operations a job type accepts, as an attrs converter (:meth:`parse`) and validator
    (:meth:`check`) of its parameters class's ``operations`` field.

    >>> ops = Operations(("metadata", "normalise"), aliases={"normalize": "normalise"})
    >>> ops.parse(" Metadata, normalize,")
    ['metadata', 'normalise']
    """

    #: the accepted names, in the order the job type applies them
    allowed: tuple[str, ...]
    #: other spellings of accepted names, e.g. ``{"normalize": "normalise"}``
    aliases: Mapping[str, str] = attrs.field(factory=dict)

    def parse(self, value: Any) -> list[str]:
        """The names in ``value`` (a list, or a comma-separated string), trimmed, lower-cased,
        aliases resolved, empty ones dropped; ``None`` gives ``[]`` (refused by :meth:`check`).

        :raises ValueError: ``value`` is neither (the job's ``INVALID_PARAMETERS`` message).
        """
        if value is None:
            return []
        if isinstance(value, str):
            items: list[Any] = value.split(",")
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise ValueError(
                "operations must be a list of names or a comma-separated string, "
                f"not {type(value).__name__}"
            )
        names = (str(item).strip().lower() for item in items)
        return [self.aliases.get(name, name) for name in names if name]

    def check(self, _inst: object, _attr: object, value: list[str]) -> None:
        """Refuse an empty list or a name outside :attr:`allowed`."""
        unknown = sorted(set(value) - set(self.allowed))
        if unknown or not value:
            raise ValueError(f"operations must be some of {', '.join(self.allowed)}; got {value!r}")
