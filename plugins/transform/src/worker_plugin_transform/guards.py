"""Resource guards for sandboxed templates: output size, loop iterations, value sizes, time.

Jinja2's sandbox stops attribute tricks (``''.__class__.__mro__``) but not work: ``{{ 'a' *
10**8 }}``, a loop over ``range(10**9)`` or a macro calling itself twice per level all run
until memory or patience ends. :class:`Limits` bounds them; the checks here are called by the
environment in :mod:`.sandbox` for every binary operator on sequences and big integers, every
``~`` concatenation, every call, every loop iteration and every piece of output, and they raise
:class:`~worker_plugin_transform.errors.TemplateLimitExceeded` *before* a big value is built.

The running counters of one render live in a :class:`Budget` held by a context variable, so one
compiled environment serves any number of renders (and threads).
"""

from __future__ import annotations

import contextvars
import re
import string
import time
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any, TypeVar

import attrs

from .errors import TemplateLimitExceeded

__all__ = [
    "Budget",
    "Limits",
    "budget",
    "check_format",
    "check_percent_format",
    "safe_str",
    "sized",
    "text_size",
]


@attrs.frozen
class Limits:
    """Bounds of one render (all configurable under ``[plugins.transform]``).

    :param max_output_chars: characters of rendered output; also the largest string or list any
        expression may build.
    :param max_loop_iterations: ``for`` iterations summed over the whole render; also the
        largest ``range()``.
    :param max_seconds: wall-clock time of the render (checked at every output, iteration and
        call; the handler's process timeout is the hard stop behind it).
    :param max_template_chars: size of a template's source.
    :param max_int_bits: the largest integer ``*`` and ``**`` may produce.
    :param max_calls: function, method and macro calls in one render.
    :param max_work_chars: characters of all strings and items built by output, filters,
        calls and operators during the render, summed (captured blocks, intermediate values):
        a bound on total work and memory however values are accumulated.
    """

    max_output_chars: int = 1_000_000
    max_loop_iterations: int = 100_000
    max_seconds: float = 10.0
    max_template_chars: int = 200_000
    max_int_bits: int = 4096
    max_calls: int = 1_000_000
    max_work_chars: int = 20_000_000

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """Read the fields from a settings mapping, ignoring unknown keys."""
        names = {f.name for f in attrs.fields(cls)}
        return cls(
            **{k: type(getattr(cls(), k))(v) for k, v in dict(settings or {}).items() if k in names}
        )


@attrs.define
class Budget:
    """The counters of one render."""

    limits: Limits
    started: float = attrs.Factory(time.monotonic)
    produced: int = 0
    charges: int = 0
    iterations: int = 0
    calls: int = 0

    @property
    def deadline(self) -> float:
        return self.started + self.limits.max_seconds

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitExceeded(
                f"template rendering took longer than {self.limits.max_seconds:g} s",
                limit="max_seconds",
                maximum=self.limits.max_seconds,
            )

    def charge(self, size: int) -> None:
        """Count ``size`` characters (or items) built; check the work limit and the time."""
        self.produced += size
        if self.produced > self.limits.max_work_chars:
            raise TemplateLimitExceeded(
                f"the template built more than {self.limits.max_work_chars} characters in "
                f"strings and lists (output, captured blocks and intermediate values)",
                limit="max_work_chars",
                maximum=self.limits.max_work_chars,
            )
        self.charges += 1
        if size > 4096 or not self.charges & 31:
            self.check_time()

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_loop_iterations:
            raise TemplateLimitExceeded(
                f"template loops ran more than {self.limits.max_loop_iterations} iterations",
                limit="max_loop_iterations",
                maximum=self.limits.max_loop_iterations,
            )
        if not self.iterations & 63:
            self.check_time()

    def call(self) -> None:
        self.calls += 1
        if self.calls > self.limits.max_calls:
            raise TemplateLimitExceeded(
                f"the template made more than {self.limits.max_calls} calls",
                limit="max_calls",
                maximum=self.limits.max_calls,
            )
        if not self.calls & 15:
            self.check_time()


_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "worker_plugin_transform_budget", default=None
)


def budget(limits: Limits) -> Budget:
    """The budget of the render running in this context (a fresh one outside a render)."""
    current = _CURRENT.get()
    return current if current is not None else Budget(limits)


def activate(b: Budget) -> contextvars.Token[Budget | None]:
    return _CURRENT.set(b)


def deactivate(token: contextvars.Token[Budget | None]) -> None:
    _CURRENT.reset(token)


def too_big(what: str, size: int, limits: Limits) -> TemplateLimitExceeded:
    return TemplateLimitExceeded(
        f"{what} would have {size} items/characters, over the limit of {limits.max_output_chars}",
        limit="max_output_chars",
        maximum=limits.max_output_chars,
    )


_T = TypeVar("_T")


def sized(value: _T, limits: Limits, what: str = "a value") -> _T:
    """Return ``value`` if it is not a string/list/dict larger than ``max_output_chars``;
    charge its size to the render's work budget."""
    if isinstance(value, (str, bytes, list, tuple, dict)):
        if len(value) > limits.max_output_chars:
            raise too_big(what, len(value), limits)
        budget(limits).charge(len(value))
    return value


def check_size(size: int, limits: Limits, what: str) -> None:
    if size > limits.max_output_chars:
        raise too_big(what, size, limits)


_CONTAINERS = (list, tuple, dict, set, frozenset)


def text_size(value: Any, limit: int) -> int:
    """An upper estimate of ``len(str(value))``, walking containers (iteratively) and stopping
    as soon as it passes ``limit``: a list holding the same big string a thousand times is
    cheap to build and huge to print."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 3
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 24
    return total


def safe_str(value: Any, limits: Limits, what: str = "a value") -> str:
    """``str(value)``, refusing containers whose text would pass ``max_output_chars``."""
    if isinstance(value, str):
        return value
    if isinstance(value, _CONTAINERS):
        check_size(text_size(value, limits.max_output_chars), limits, what)
    return str(value)


def args_size(args: Iterable[Any], limits: Limits) -> int:
    """The largest text size among ``args`` (for formats that may repeat any of them)."""
    return max((text_size(a, limits.max_output_chars) for a in args), default=0)


def guarded_iter(iterable: Iterable[Any], limits: Limits) -> Iterator[Any]:
    """Iterate, charging every item to the render's loop budget."""
    b = budget(limits)
    for item in iterable:
        b.iterate()
        yield item


def check_mul(left: Any, right: Any, limits: Limits) -> None:
    """Refuse ``seq * n`` beyond ``max_output_chars`` and ``int * int`` beyond ``max_int_bits``."""
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
            check_size(len(seq) * max(n, 0), limits, "a repeated sequence")
            return
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > limits.max_int_bits:
            raise TemplateLimitExceeded(
                f"an integer product would have about {bits} bits, over the limit of "
                f"{limits.max_int_bits}",
                limit="max_int_bits",
                maximum=limits.max_int_bits,
            )


def check_pow(left: Any, right: Any, limits: Limits) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = left.bit_length() * right
        if bits > limits.max_int_bits:
            raise TemplateLimitExceeded(
                f"{left} ** {right} would have about {bits} bits, over the limit of "
                f"{limits.max_int_bits}",
                limit="max_int_bits",
                maximum=limits.max_int_bits,
            )


def check_add(left: Any, right: Any, limits: Limits) -> None:
    if isinstance(left, Sized) and isinstance(right, Sized) and not isinstance(left, dict):
        check_size(len(left) + len(right), limits, "a concatenation")


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def check_percent_format(fmt: str, limits: Limits, args: Any = None) -> None:
    """Refuse ``'%999999999d' % x``, ``'%*d'`` and ``'%s%s%s' % (big, big, big)`` before
    formatting."""
    total = len(fmt)
    specs = _PERCENT.findall(fmt)
    for width, precision in specs:
        if "*" in (width, precision):
            raise TemplateLimitExceeded(
                "'*' widths are not allowed in % formats",
                limit="max_output_chars",
                maximum=limits.max_output_chars,
            )
        total += int(width or 0) + int(precision or 0)
    if isinstance(args, tuple):
        total += sum(text_size(a, limits.max_output_chars) for a in args)
    elif isinstance(args, Mapping):
        total += len(specs) * args_size(args.values(), limits)
    elif args is not None:
        total += text_size(args, limits.max_output_chars)
    check_size(total, limits, "a % format")


def check_format(fmt: str, limits: Limits, args: Iterable[Any] = ()) -> None:
    """Refuse ``'{:>999999999}'.format(x)``, nested replacement fields in format specs, and
    ``'{0}{0}{0}'.format(big)`` before formatting."""
    total = len(fmt)
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise its own clear error
    fields = 0
    for _literal, field, spec, _conv in parsed:
        fields += field is not None
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitExceeded(
                "nested fields in format specs are not allowed",
                limit="max_output_chars",
                maximum=limits.max_output_chars,
            )
        total += sum(int(n) for n in re.findall(r"\d+", spec))
    total += fields * args_size(args, limits)
    check_size(total, limits, "a format")


def check_join(sep: str, items: Iterable[Any], limits: Limits) -> list[str]:
    """The items of a join as strings, refusing a result over the size limit."""
    parts: list[str] = []
    total = 0
    for item in items:
        text = safe_str(item, limits, "a join item")
        total += len(text) + (len(sep) if parts else 0)
        check_size(total, limits, "a join")
        parts.append(text)
    return parts


def check_replace(text: str, old: str, new: str, count: int, limits: Limits) -> None:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * max(len(new) - len(old), 0), limits, "a replace")
