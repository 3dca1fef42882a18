"""The template sandbox: normal templates render; attacks are refused with typed errors."""

from __future__ import annotations

import pytest
from jobworker import JobFailure
from worker_plugin_transform.api import Limits, render_template
from worker_plugin_transform.errors import (
    TEMPLATE_ERROR,
    TEMPLATE_FORBIDDEN,
    TEMPLATE_LIMIT_EXCEEDED,
    TEMPLATE_NOT_FOUND,
    TEMPLATE_SYNTAX_ERROR,
)

SMALL = {"max_seconds": 1.5}


def render(source: str, variables: dict | None = None, **settings: object) -> str:
    return render_template(
        template_content=source,
        variables=variables or {},
        settings={**SMALL, **settings},
        registered={},
    )


def refused(source: str, variables: dict | None = None, **settings: object) -> JobFailure:
    with pytest.raises(JobFailure) as info:
        render(source, variables, **settings)
    return info.value


def test_normal_template_features_render() -> None:
    source = (
        "{% macro item(x) %}- {{ x | upper }}{% endmacro %}"
        "# {{ title }}\n{% for x in items %}{{ item(x) }}\n{% endfor %}"
        "{{ 'a-b'.split('-') | join('+') }} {{ '%s=%d' | format('n', 3) }} "
        "{{ 'x' ~ 'y' }} {{ 2 ** 10 }} {{ [1, 2] + [3] }} {{ 'ab' * 2 }} "
        "{{ range(3) | list }} {{ '{}!'.format('hi') }} {{ 'x'.ljust(3, '.') }}"
    )
    out = render(source, {"title": "T", "items": ["a", "b"]})
    assert out == ("# T\n- A\n- B\na+b n=3 xy 1024 [1, 2, 3] abab [0, 1, 2] hi! x..")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**8 }}",
        "{{ [0] * 10**8 }}",
        "{{ 10 ** 100000000 }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.center(10**9) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'aaaa' | replace('a', 'b' * 1000000) }}",
        "{{ 'x' | indent(10**7) }}",
        "{{ [1] | batch(10**9, 'x') | list }}",
        "{{ range(100000) | map('string') | join('x' * 100000) }}",
        "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
    ],
)
def test_size_bombs_are_refused_before_building(source: str) -> None:
    err = refused(source)
    assert err.code == TEMPLATE_LIMIT_EXCEEDED
    assert err.details["limit"] in ("max_output_chars", "max_int_bits")


BIG = "{% set s = 'a' * 900000 %}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ [s] * 1000 }}",
        "{{ ([s] * 1000) | tojson }}",
        "{{ ([s] * 1000) | string }}",
        "{{ {'a': s, 'b': s} | xmlattr }}",
        "{{ '%s%s%s' % (s, s, s) }}",
        "{{ '%(a)s%(a)s' % {'a': s} }}",
        "{{ '%s' | format([s, s]) }}",
        "{{ '{0}{0}{0}'.format(s) }}",
        "{{ '{a}{a}'.format_map({'a': s}) }}",
        "{{ 'x' ~ [s, s] }}",
        "{{ ([s] * 10) | join }}",
        "{{ ' '.join([[s], [s]]) }}",
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [s] %}"
        "{% endfor %}",
    ],
)
def test_values_that_are_cheap_to_build_but_huge_to_print(source: str) -> None:
    """Lists repeating one big string cost little memory until printed or formatted."""
    err = refused(BIG + source)
    assert err.code == TEMPLATE_LIMIT_EXCEEDED
    assert err.details["limit"] in ("max_output_chars", "max_work_chars")


def test_big_strings_within_limits_still_work() -> None:
    out = render(
        BIG + "{{ s | length }} {{ [s] | length }} {{ ([s] * 1000) | length }} "
        "{{ ([s] * 3) | first | length }}"
    )
    assert out == "900000 1 1000 900000"


def test_huge_range_and_nested_loops_are_refused() -> None:
    err = refused("{% for i in range(10**9) %}{% endfor %}")
    assert err.code == TEMPLATE_LIMIT_EXCEEDED and "range()" in err.message
    err = refused("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert err.code == TEMPLATE_LIMIT_EXCEEDED
    assert err.details == {"limit": "max_loop_iterations", "maximum": 100_000}


def test_output_limit_and_captured_output_limit() -> None:
    err = refused("{% for i in range(100) %}{{ 'a' * 1000 }}{% endfor %}", max_output_chars=50_000)
    assert err.code == TEMPLATE_LIMIT_EXCEEDED and "rendered output" in err.message
    # Output captured into a variable never reaches the output counter: the work budget stops it.
    err = refused(
        "{% set s = 'a' * 1000000 %}{% set x %}{% for i in range(100) %}{{ s }}"
        "{% endfor %}{% endset %}"
    )
    assert err.details["limit"] == "max_work_chars"


def test_exponential_macro_recursion_hits_the_deadline() -> None:
    err = refused(
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        max_seconds=0.5,
    )
    assert err.code == TEMPLATE_LIMIT_EXCEEDED
    assert err.details == {"limit": "max_seconds", "maximum": 0.5}


def test_infinite_recursion_is_a_typed_error() -> None:
    err = refused("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}")
    assert err.code == TEMPLATE_LIMIT_EXCEEDED and err.details["limit"] == "recursion"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ 'a' | attr('__class__') }}",
        "{{ self._TemplateReference__context }}",
        "{{ 'abc'.translate({}) }}",
        "{{ [1].append(2) }}",
        "{{ {}.update({'a': 1}) }}",
    ],
)
def test_sandbox_escapes_are_forbidden(source: str) -> None:
    err = refused(source)
    assert err.code == TEMPLATE_FORBIDDEN
    assert "sandbox" in err.message


def test_strict_undefined_syntax_and_missing_include() -> None:
    err = refused("Hello {{ name }}")
    assert err.code == TEMPLATE_ERROR and "'name' is undefined" in err.message
    err = refused("{% for %}")
    assert err.code == TEMPLATE_SYNTAX_ERROR and err.details["line"] == 1
    with pytest.raises(JobFailure) as info:
        render_template("NoSuchTemplate", {}, registered={})
    assert info.value.code == TEMPLATE_NOT_FOUND
    assert "Session" in info.value.details["available"]
    err = refused("{{ lipsum() }}")
    assert err.code == TEMPLATE_ERROR


def test_template_size_limit() -> None:
    err = refused("x" * 1001, max_template_chars=1000)
    assert err.code == TEMPLATE_LIMIT_EXCEEDED


def test_registered_templates_include_each_other_and_win_over_builtins() -> None:
    registered = {"Session": "mine {{ x }}", "Outer": "[{% include 'Session' %}]"}
    assert render_template("Outer", {"x": 1}, registered=registered) == "[mine 1]"


def test_template_dirs_from_settings(tmp_path) -> None:
    (tmp_path / "Greeting.md.j2").write_text("Hi {{ name }}")
    (tmp_path / "notes.txt").write_text("not a template")
    out = render_template(
        "Greeting", {"name": "Ada"}, settings={"template_dirs": [str(tmp_path)]}, registered={}
    )
    assert out == "Hi Ada"
    with pytest.raises(JobFailure) as info:
        render_template("greeting", {}, settings={"template_dirs": [str(tmp_path)]}, registered={})
    assert "did you mean 'Greeting'" in info.value.message
    with pytest.raises(JobFailure):
        render_template("../notes", {}, settings={"template_dirs": [str(tmp_path)]}, registered={})


def test_limits_from_settings_ignore_unknown_keys() -> None:
    limits = Limits.from_settings({"max_output_chars": "10", "allowed_hosts": ["x"]})
    assert limits.max_output_chars == 10 and limits.max_loop_iterations == 100_000
