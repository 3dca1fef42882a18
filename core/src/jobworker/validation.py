"""Validating a job's parameters: plain JSON within size limits (:func:`check_json_parameters`),
then against its type's schema (an attrs class), with clear errors."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .errors import InvalidParameters
from .handler import JobHandler
from .model import JobParameters

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "MAX_PARAMETER_BYTES",
    "MAX_PARAMETER_DEPTH",
    "check_json_parameters",
    "check_submitted_keys",
    "params_for",
    "select_pages",
]

#: Deepest nesting of objects and lists in a job's parameters (the parameters object is level 1).
MAX_PARAMETER_DEPTH = 32
#: Largest parameters object, as compact UTF-8 JSON.
MAX_PARAMETER_BYTES = 1024 * 1024
_INT64 = (-(2**63), 2**63 - 1)

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _strict_bool(value: Any, _type: Any) -> bool:
    """``true``/``false`` (also as text, from ``-p key=false``); never ``bool("false")``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


@functools.cache
def _converter() -> cattrs.Converter:
    """Made on first use: cattrs is slow to import, and a handler without a parameters schema
    (or a command that only checks JSON) does not need it."""
    import cattrs

    # A field with its own attrs converter gets the submitted value as it is: structured by its
    # annotation first, a comma string for ``list[str]`` would reach it as single characters.
    converter = cattrs.Converter(forbid_extra_keys=False, prefer_attrib_converters=True)
    converter.register_structure_hook(bool, _strict_bool)
    return converter


@functools.cache
def _field_names(schema: type) -> frozenset[str]:
    """The keys ``schema`` accepts (computed once per class)."""
    return frozenset(f.alias or f.name for f in attrs.fields(schema))


_NAMED = frozenset(JobParameters.NAMED)


@functools.cache
def _structure_hook(schema: type) -> Callable[[Any, type], Any]:
    """The converter's structuring function for ``schema`` (looked up once per class)."""
    hook: Callable[[Any, type], Any] = _converter().get_structure_hook(schema)
    return hook


@functools.cache
def _known_keys(schema: type) -> frozenset[str]:
    """The keys a submitter may give for ``schema``: its own, the legacy named keys, ``extra``."""
    return _field_names(schema) | _NAMED | {"extra"}


def params_for(handler: JobHandler, parameters: JobParameters) -> Any:
    """The handler's parameters instance built from the stored parameters.

    Named legacy keys and ``extra`` are merged (``extra`` wins); keys the schema does not declare
    are ignored here (stored documents may carry legacy keys of other types).

    :raises InvalidParameters: with every problem listed, e.g.
        ``invalid parameters for pdf: page_start: expected int, got 'x'``.
    """
    flat = parameters.flat()
    if handler.params is None:
        return flat
    names = _field_names(handler.params)
    # Legacy named keys carry defaults (e.g. template=None); only pass those that are set or
    # declared without a default, so the schema's own defaults apply.
    extra = parameters.extra
    data = {
        k: v
        for k, v in flat.items()
        if k in names and not (v is None and k in _NAMED and k not in extra)
    }
    plain = _plain_instance(handler.params, data)
    if plain is not None:
        return plain
    import cattrs

    try:
        return _structure_hook(handler.params)(data, handler.params)
    except cattrs.ClassValidationError as exc:
        problems = cattrs.transform_error(exc, path="parameters", format_exception=_reason)
        raise InvalidParameters(
            f"invalid parameters for {handler.job_type}: {'; '.join(problems)}",
            details={"problems": problems},
        ) from None
    except (TypeError, ValueError) as exc:  # attrs validators raise these
        raise InvalidParameters(f"invalid parameters for {handler.job_type}: {exc}") from None


_PLAIN_TYPES = (str, int, float, bool)


@functools.cache
def _plain_fields(schema: type) -> dict[str, tuple[type | None, bool, bool]] | None:
    """``schema``'s fields as key -> (plain type or ``None`` for a field with its own
    converter, ``None`` allowed, required), when every field is one :func:`_plain_instance`
    can build as cattrs would; else ``None``."""
    import types
    import typing

    fields = attrs.fields(schema)
    try:
        hints = (
            typing.get_type_hints(schema) if any(isinstance(f.type, str) for f in fields) else {}
        )
    except Exception:  # a name the annotations cannot resolve: cattrs' business
        return None
    plain: dict[str, tuple[type | None, bool, bool]] = {}
    for f in fields:
        if not f.init or (f.alias or f.name) != f.name:
            return None  # cattrs keys such a field differently
        required = f.default is attrs.NOTHING
        if f.converter is not None:  # it gets the submitted value as it is
            plain[f.name] = (None, True, required)
            continue
        hint = hints.get(f.name, f.type)
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and (
            len(typing.get_args(hint)) == 2 and type(None) in typing.get_args(hint)
        )
        if optional:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if hint not in _PLAIN_TYPES:
            return None
        plain[f.name] = (hint, optional, required)
    return plain


def _plain_instance(schema: type, data: Mapping[str, Any]) -> Any:
    """``schema(**data)`` when cattrs would build exactly that: every field plain (a str, int,
    float or bool, maybe optional, or one with its own converter), every required one given,
    every value of exactly its field's type (cattrs' ``str(v)``, ``int(v)``, ``float(v)`` and
    :func:`_strict_bool` return such a value unchanged). ``None`` otherwise, and when building
    it raises (cattrs then reports the problem in its words): a submit without cattrs."""
    fields = _plain_fields(schema)
    if fields is None:
        return None
    for key, (kind, optional, required) in fields.items():
        if key not in data:
            if required:
                return None
            continue
        value = data[key]
        if kind is not None and type(value) is not kind and not (optional and value is None):
            return None
    try:
        return schema(**data)
    except Exception:
        return None


def _reason(exc: BaseException, type_: Any) -> str:
    """An attrs validator's own message (it names the field and the rule), else cattrs'."""
    import cattrs

    if isinstance(exc, ValueError) and not isinstance(exc, cattrs.errors.ForbiddenExtraKeysError):
        text = str(exc.args[0]) if exc.args else ""
        if text and "invalid literal" not in text:
            return text
    return cattrs.v.format_exception(exc, type_)


def check_submitted_keys(handler: JobHandler, submitted: Mapping[str, Any]) -> None:
    """Refuse keys a submitter gave that neither the schema nor the legacy shape knows (typos)."""
    if handler.params is None:
        return
    known = _known_keys(handler.params)
    extra = submitted.get("extra")
    if extra is None and known.issuperset(submitted):
        return  # the common case, decided without building sets
    unknown = sorted(set(submitted) - known)
    if isinstance(extra, Mapping):
        unknown += sorted(set(extra) - known)
    if unknown:
        raise InvalidParameters(
            f"unknown parameter(s) for {handler.job_type}: {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(_field_names(handler.params)))}",
            details={"unknown": unknown},
        )


def check_json_parameters(parameters: Mapping[str, Any]) -> None:
    """Refuse parameters that are not plain JSON every store keeps exactly.

    Allowed: objects with string keys, lists, strings (valid Unicode), integers within signed
    64 bits, finite floats, booleans and null; nested at most :data:`MAX_PARAMETER_DEPTH` levels
    and at most :data:`MAX_PARAMETER_BYTES` as JSON. Checked without recursion, so no input can
    overflow the stack.

    :raises InvalidParameters: naming the path of the first offending value.
    """
    if _plain_size_bound(parameters) <= MAX_PARAMETER_BYTES:
        return
    _walk_json_parameters(parameters)


def _walk_json_parameters(parameters: Mapping[str, Any]) -> None:
    """:func:`check_json_parameters` the slow way, naming the first offending path."""
    stack: list[tuple[Any, str, int]] = [(parameters, "parameters", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (Mapping, list, tuple)):
            if depth > MAX_PARAMETER_DEPTH:
                raise InvalidParameters(
                    f"{path}: nested deeper than {MAX_PARAMETER_DEPTH} levels",
                    details={"path": path, "max_depth": MAX_PARAMETER_DEPTH},
                )
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidParameters(f"{path}: key {key!r} is not a string")
                    _check_text(key, f"{path}: key {key[:40]!r}")
                    stack.append((item, f"{path}.{key[:40]}", depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                raise InvalidParameters(f"{path}: integer outside the signed 64-bit range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidParameters(f"{path}: {value} is not a JSON number")
        else:
            raise InvalidParameters(f"{path}: {type(value).__name__} is not a JSON value")
    size = len(json.dumps(parameters, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_PARAMETER_BYTES:
        raise InvalidParameters(
            f"parameters are {size} bytes as JSON; at most {MAX_PARAMETER_BYTES} are accepted",
            details={"size": size, "max_bytes": MAX_PARAMETER_BYTES},
        )


#: More than any parameters can be: :func:`_plain_size_bound`'s "check the slow way".
_UNKNOWN = MAX_PARAMETER_BYTES + 1


def _plain_size_bound(parameters: Any) -> int:
    """An upper bound of the size of ``parameters`` as compact UTF-8 JSON if they hold only
    plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` values (exact types)
    within the limits :func:`check_json_parameters` sets, else more than
    :data:`MAX_PARAMETER_BYTES`.

    The fast path of the common submit: no paths built for messages, no JSON encoded. A
    character is at most 6 bytes as JSON (``\\u001f``; UTF-8 needs at most 4), a 64-bit
    integer 20, a float 24 (``repr``), ``false`` 5; a container adds its brackets and a comma
    per item, a key its quotes and colon. Anything else (other types, an error to report, a
    bound over the limit) is left to the walk that names the offending path.
    """
    if type(parameters) is not dict:
        return _UNKNOWN
    low, high = _INT64
    bound = 0
    stack: list[tuple[Any, int]] = [(parameters, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_PARAMETER_DEPTH:
            return _UNKNOWN
        if type(container) is dict:
            items: Any = container.values()
            bound += 2 + 4 * len(container)
            for key in container:
                if type(key) is not str or not (key.isascii() or _valid_text(key)):
                    return _UNKNOWN
                bound += 6 * len(key)
        else:
            items = container
            bound += 2 + len(container)
        for item in items:
            kind = type(item)
            if kind is str:
                if not (item.isascii() or _valid_text(item)):
                    return _UNKNOWN
                bound += 6 * len(item) + 2
            elif kind is int:
                if not low <= item <= high:
                    return _UNKNOWN
                bound += 20
            elif kind is float:
                if not math.isfinite(item):
                    return _UNKNOWN
                bound += 24
            elif kind is bool or item is None:
                bound += 5
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            else:
                return _UNKNOWN
        if bound > MAX_PARAMETER_BYTES:
            return _UNKNOWN
    return bound


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameters(f"{where}: not valid Unicode (a lone surrogate)") from None


def select_pages(total: int, page_start: int | None, page_end: int | None) -> list[int]:
    """1-based pages ``page_start..page_end`` (inclusive; a missing end is the document's),
    checked against a document of ``total`` pages.

    :raises InvalidParameters: naming what was given, e.g. ``page_start 5 is beyond the
        document's 3 pages``; ``details`` holds ``page_start``, ``page_end``, ``page_count``.
    """
    start = 1 if page_start is None else page_start
    end = total if page_end is None else page_end
    pages = f"{total} page{'s' if total != 1 else ''}"
    problem = None
    if start < 1:
        problem = f"page_start {start}: pages are numbered from 1"
    elif start > total:
        problem = f"page_start {start} is beyond the document's {pages}"
    elif end > total:
        problem = f"page_end {end} is beyond the document's {pages}"
    elif end < start:
        problem = f"page_end {end} is before page_start {start}"
    if problem is not None:
        raise InvalidParameters(
            problem,
            details={"page_start": page_start, "page_end": page_end, "page_count": total},
        )
    return list(range(start, end + 1))
