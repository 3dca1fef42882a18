"""The template sandbox: Jinja2's ``ImmutableSandboxedEnvironment`` plus resource limits.

On top of Jinja2's sandbox (no private attributes, no mutation of lists and dicts) this
environment:

* uses ``StrictUndefined`` (a missing variable is an error, not an empty string) and no
  autoescaping (output is Markdown or text);
* rewrites every template before compiling it, so that each ``for`` iterable, each ``~``
  concatenation and each piece of output passes through a guard (:mod:`.guards`) that charges it
  to the render's budget;
* intercepts ``*``, ``**``, ``+`` and ``%`` to refuse huge strings, lists and integers before
  they are built, and every call (methods, macros, globals) to count calls, check the deadline,
  cap integer arguments of built-in methods (``'x'.ljust(10**9)``) and the size of results;
* allows only a list of harmless ``str`` methods, caps ``range()`` and guards the filters that
  can multiply sizes (``replace``, ``join``, ``indent``, ``wordwrap``, ``format``, ``center``,
  ``batch``, ``slice``, ``sum``, ``tojson``); ``lipsum`` is gone;
* disables constant folding, so nothing a template says is computed while compiling it.

:func:`render` runs a template under a fresh :class:`~.guards.Budget`, counts the output as it
is generated and turns every failure into a typed :class:`jobworker.JobFailure`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import (
    BaseLoader,
    StrictUndefined,
    nodes,
    pass_context,
    pass_environment,
)
from jinja2 import exceptions as jexc
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from jobworker import JobFailure

from . import guards
from .errors import (
    TemplateError,
    TemplateForbidden,
    TemplateLimitExceeded,
    TemplateNotFound,
    TemplateSyntaxError,
)
from .guards import Limits, check_size, sized, too_big

__all__ = ["MAX_NESTED_BLOCKS", "SafeEnvironment", "render"]

#: Python compiles at most 20 statically nested blocks; a template nesting more ``for``/``if``/
#: ``with`` blocks than that is refused (``TEMPLATE_LIMIT_EXCEEDED``, ``limit == "nesting"``).
MAX_NESTED_BLOCKS = 20

_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "expandtabs",
        "find",
        "format",
        "format_map",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)
_BUILTIN_CALLABLES = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
)


class _Guard(NodeTransformer):
    """Route loops, ``~`` and output through the guard filters (see the module docstring)."""

    @staticmethod
    def _wrap(node: nodes.Node, name: str) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)  # transforms the children in place
        node.iter = self._wrap(node.iter, "_jw_iter")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return self._wrap(nodes.List(node.nodes, lineno=node.lineno), "_jw_concat")

    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        literal = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        children: list[nodes.Expr] = [
            c if isinstance(c, nodes.TemplateData) else self._wrap(c, "_jw_emit")
            for c in node.nodes
        ]
        if literal:  # the literal text of this output, charged once per execution
            children.insert(0, self._wrap(nodes.Const(literal, lineno=node.lineno), "_jw_lit"))
        node.nodes = children
        return node


def _limits(context: Context) -> Limits:
    """The limits of the render ``context`` belongs to (the guard filters exist only there)."""
    env = context.environment
    if not isinstance(env, SafeEnvironment):
        raise TypeError(f"the template guards need a SafeEnvironment, not {type(env).__name__}")
    return env.limits


@pass_context
def _jw_iter(context: Context, iterable: Any) -> Any:
    return guards.guarded_iter(iterable, _limits(context))


@pass_context
def _jw_concat(context: Context, parts: list[Any]) -> str:
    limits = _limits(context)
    return sized("".join(guards.check_join("", parts, limits)), limits, "a '~' concatenation")


@pass_context
def _jw_lit(context: Context, size: int) -> str:
    guards.budget(_limits(context)).charge(size)
    return ""


@pass_context
def _jw_emit(context: Context, value: Any) -> str:
    limits = _limits(context)
    text = guards.safe_str(value, limits, "an output value")
    guards.budget(limits).charge(len(text))
    return text


class SafeEnvironment(ImmutableSandboxedEnvironment):
    """A sandboxed, resource-limited Jinja2 environment (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(
        self,
        limits: Limits | None = None,
        loader: BaseLoader | None = None,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        globals: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=False,
            optimized=False,
            keep_trailing_newline=True,
            auto_reload=True,
        )
        self.limits = limits or Limits()
        own = {"join": _join, **(filters or {})}
        self.filters = {
            name: _guarded_filter(name, f, self.limits) for name, f in {**FILTERS, **own}.items()
        }
        self.filters.update(
            _jw_iter=_jw_iter, _jw_concat=_jw_concat, _jw_emit=_jw_emit, _jw_lit=_jw_lit
        )
        self.globals.pop("lipsum", None)
        self.globals["range"] = self._range
        self.globals.update(globals or {})

    # -- the rewrite before compiling ------------------------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        check_size(
            len(source),
            Limits(max_output_chars=self.limits.max_template_chars),
            f"template {name or '<inline>'}",
        )
        tree = super()._parse(source, name, filename)
        guarded: nodes.Template = _Guard().visit(tree)
        return guarded

    def _compile(self, source: str, filename: str) -> types.CodeType:
        """Compile the generated Python; Python's own limits (about 20 statically nested
        blocks, 200 nested parentheses) end as :class:`TemplateLimitExceeded`, not a
        ``SyntaxError``."""
        try:
            return super()._compile(source, filename)
        except (SyntaxError, RecursionError, MemoryError) as exc:
            msg = getattr(exc, "msg", None) or type(exc).__name__
            raise TemplateLimitExceeded(
                f"template {filename} is nested too deeply to compile ({msg})",
                limit="nesting",
                maximum=MAX_NESTED_BLOCKS,
            ) from None

    # -- runtime checks --------------------------------------------------------------------

    def _range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > self.limits.max_loop_iterations:
            raise TemplateLimitExceeded(
                f"range() of {len(rng)} items is over the limit of "
                f"{self.limits.max_loop_iterations}",
                limit="max_loop_iterations",
                maximum=self.limits.max_loop_iterations,
            )
        return rng

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, (str, bytes)) and attr not in _STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            guards.check_mul(left, right, self.limits)
        elif operator == "**":
            guards.check_pow(left, right, self.limits)
        elif operator == "+":
            guards.check_add(left, right, self.limits)
        elif operator == "%" and isinstance(left, str):
            guards.check_percent_format(left, self.limits, right)
        return sized(self.binop_table[operator](left, right), self.limits, f"'{operator}'")

    def call(
        self,
        context: Context,
        obj: Any,
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        limits = self.limits
        guards.budget(limits).call()
        inner = getattr(obj, "__wrapped__", obj)
        if isinstance(inner, _BUILTIN_CALLABLES):
            for value in (*args, *kwargs.values()):
                if (
                    isinstance(value, int)
                    and not isinstance(value, bool)
                    and abs(value) > limits.max_output_chars
                ):
                    raise too_big(
                        f"an argument of {getattr(inner, '__name__', 'a call')}()",
                        abs(value),
                        limits,
                    )
            owner = getattr(inner, "__self__", None)
            if isinstance(owner, str):
                if inner.__name__ == "join" and len(args) == 1 and not kwargs:
                    return owner.join(guards.check_join(owner, args[0], limits))
                _check_str_call(owner, inner.__name__, args, kwargs, limits)
        result = super().call(context, obj, *args, **kwargs)
        return sized(result, limits, f"the result of {getattr(inner, '__name__', 'a call')}()")


def _check_str_call(
    text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> None:
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        guards.check_replace(text, args[0], args[1], count, limits)
    elif name == "format":
        guards.check_format(text, limits, (*args, *kwargs.values()))
    elif name == "format_map" and args and isinstance(args[0], Mapping):
        guards.check_format(text, limits, args[0].values())
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            check_size(len(text) + text.count("\t") * size, limits, "expandtabs()")


# -- filters ---------------------------------------------------------------------------------


def _guarded_filter(name: str, func: Callable[..., Any], limits: Limits) -> Callable[..., Any]:
    """``func`` with the size checks its name needs before, and a result size check after."""
    pre = _PRE_CHECKS.get(name)

    stringifies = name not in _CONTAINER_SAFE

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value, rest = _split_args(func, args)
        if stringifies and (isinstance(value, _CONTAINER_TYPES) or rest or kwargs):
            containers = [
                a for a in (value, *rest, *kwargs.values()) if isinstance(a, _CONTAINER_TYPES)
            ]
            if containers:
                check_size(
                    sum(guards.text_size(c, limits.max_output_chars) for c in containers),
                    limits,
                    f"the {name} filter's input",
                )
        if pre is not None:
            pre(limits, value, *rest, **kwargs)
        return sized(func(*args, **kwargs), limits, f"the result of the {name} filter")

    return guarded


def _split_args(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The filtered value and the filter's own arguments (dropping a passed context/env)."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    return args[skip] if len(args) > skip else None, args[skip + 1 :]


def _pre_replace(
    limits: Limits, value: Any, old: Any = "", new: Any = "", count: Any = None
) -> None:
    guards.check_replace(
        str(value), str(old), str(new), count if isinstance(count, int) else -1, limits
    )


@pass_environment
def _join(env: SafeEnvironment, value: Any, d: str = "", attribute: Any = None) -> str:
    """Jinja's ``join`` filter, refusing a result over the size limit while it is built."""
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    return str(d).join(guards.check_join(str(d), value, env.limits))


def _pre_indent(limits: Limits, value: Any, width: Any = 4, *_: Any, **kw: Any) -> None:
    width = kw.get("width", width)
    pad = len(width) if isinstance(width, str) else int(width)
    text = str(value)
    check_size(len(text) + pad * (text.count("\n") + 1), limits, "indent")


def _pre_wordwrap(
    limits: Limits,
    value: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    *_: Any,
    **kw: Any,
) -> None:
    width = max(int(kw.get("width", width)), 1)
    wrap = kw.get("wrapstring", wrapstring) or "\n"
    text = str(value)
    check_size(
        len(text) + len(wrap) * (len(text) // width + text.count("\n") + 1), limits, "wordwrap"
    )


def _pre_format(limits: Limits, value: Any, *args: Any, **kwargs: Any) -> None:
    guards.check_percent_format(str(value), limits, kwargs or args)


def _pre_center(limits: Limits, value: Any, width: Any = 80, **kw: Any) -> None:
    check_size(int(kw.get("width", width)), limits, "center")


def _pre_count(limits: Limits, value: Any, count: Any = 1, *_: Any, **kw: Any) -> None:
    for key in ("linecount", "slices"):
        count = kw.get(key, count)
    check_size(int(count), limits, "batch/slice")


def _pre_sum(limits: Limits, value: Any, attribute: Any = None, start: Any = 0, **kw: Any) -> None:
    if not isinstance(kw.get("start", start), (int, float)):
        raise TemplateForbidden("the sum filter adds numbers only")


def _pre_tojson(limits: Limits, value: Any, indent: Any = None, **kw: Any) -> None:
    indent = kw.get("indent", indent)
    if indent is not None and (not isinstance(indent, int) or indent > 16):
        raise TemplateForbidden("tojson: indent must be an integer up to 16")


_CONTAINER_TYPES = (list, tuple, dict, set, frozenset)

#: Filters that work on containers without turning them into text.
_CONTAINER_SAFE = frozenset(
    {
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "groupby",
        "items",
        "join",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    }
)

_PRE_CHECKS: dict[str, Callable[..., None]] = {
    "replace": _pre_replace,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "format": _pre_format,
    "center": _pre_center,
    "batch": _pre_count,
    "slice": _pre_count,
    "sum": _pre_sum,
    "tojson": _pre_tojson,
}


# -- rendering -------------------------------------------------------------------------------


def render(
    env: SafeEnvironment, template: str, variables: Mapping[str, Any], *, inline: bool = False
) -> str:
    """Render the template named ``template`` (or, with ``inline``, the source ``template``).

    :raises TemplateNotFound, TemplateSyntaxError, TemplateError, TemplateForbidden,
        TemplateLimitExceeded: typed failures; nothing else escapes for bad templates.
    """
    limits = env.limits
    budget = guards.Budget(limits)
    token = guards.activate(budget)
    label = "<inline template>" if inline else repr(template)
    try:
        tmpl = env.from_string(template) if inline else env.get_template(template)
        parts: list[str] = []
        total = 0
        for chunk in tmpl.generate(variables):
            total += len(chunk)
            if total > limits.max_output_chars:
                raise TemplateLimitExceeded(
                    f"the rendered output is longer than {limits.max_output_chars} characters",
                    limit="max_output_chars",
                    maximum=limits.max_output_chars,
                )
            parts.append(chunk)
            if not len(parts) & 63:
                budget.check_time()
        return "".join(parts)
    except JobFailure:
        raise
    except jexc.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(
            f"syntax error in {exc.name or label}, line {exc.lineno}: {exc.message}",
            details={"template": exc.name or label, "line": exc.lineno},
        ) from None
    except jexc.TemplateNotFound as exc:
        registry = getattr(env.loader, "registry", None)
        if registry is not None:
            raise registry.not_found(str(exc.name)) from None
        raise TemplateNotFound(
            f"template {exc.name!r} not found (from {label})", details={"template": str(exc.name)}
        ) from None
    except jexc.SecurityError as exc:
        raise TemplateForbidden(f"{label}: refused by the sandbox: {exc}") from None
    except jexc.UndefinedError as exc:
        raise TemplateError(f"{label}: {exc}", details={"kind": "undefined"}) from None
    except RecursionError:
        raise TemplateLimitExceeded(
            f"{label} recursed too deeply (macros or includes)", limit="recursion", maximum=None
        ) from None
    except MemoryError:
        raise TemplateLimitExceeded(
            f"{label} ran out of memory", limit="memory", maximum=None
        ) from None
    except (
        jexc.TemplateError,
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        AttributeError,
    ) as exc:
        raise TemplateError(f"{label}: {type(exc).__name__}: {exc}") from None
    finally:
        guards.deactivate(token)
