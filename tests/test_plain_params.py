"""The parameters fast path (jobworker.validation._plain_instance: no cattrs for plain fields
given plain values) builds exactly what cattrs builds, and leaves everything else to cattrs."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobworker import InvalidParameters, JobHandler
from jobworker.model import JobParameters
from jobworker.validation import _plain_fields, _plain_instance, _structure_hook, params_for


def _positive(_instance, attribute, value):
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0")


@attrs.define
class Plain:
    text: str
    count: int = 3
    ratio: float = 0.5
    flag: bool = False
    maybe: str | None = None
    limit: int | None = attrs.field(default=None, validator=_positive)
    words: list[str] = attrs.field(factory=list, converter=lambda v: list(v))


@attrs.define
class NotPlain:
    text: str
    tags: list[str] = attrs.Factory(list)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.sampled_from(["true", "no", "1", "2.5"]),
    st.lists(st.text(max_size=2), max_size=2),
)


def cattrs_result(schema, data):
    try:
        return ("ok", _structure_hook(schema)(data, schema))
    except Exception as exc:
        return ("error", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in attrs.fields(Plain)]), values))
def test_the_fast_path_gives_what_cattrs_gives_or_steps_aside(data):
    fast = _plain_instance(Plain, data)
    expected = cattrs_result(Plain, data)
    if fast is not None:
        assert expected == ("ok", fast)
        assert [type(getattr(fast, f)) for f in ("text", "count")] == [
            type(getattr(expected[1], f)) for f in ("text", "count")
        ]


def test_which_values_take_the_fast_path():
    assert _plain_instance(Plain, {"text": "hi", "count": 2, "flag": True}) == Plain(
        "hi", 2, flag=True
    )
    assert _plain_instance(Plain, {"text": "hi", "words": "a"}) == Plain("hi", words=["a"])
    assert _plain_instance(Plain, {"text": "hi", "maybe": None}) == Plain("hi")
    for data in (
        {},  # text is required: cattrs names it
        {"text": 5},  # cattrs makes it "5"
        {"text": "x", "count": "2"},  # cattrs makes it 2
        {"text": "x", "count": True},  # a bool is not an int here
        {"text": "x", "ratio": 1},  # cattrs makes it 1.0
        {"text": "x", "flag": "yes"},  # _strict_bool's words
        {"text": "x", "limit": -1},  # the validator refuses it: cattrs words the error
    ):
        assert _plain_instance(Plain, data) is None, data
    assert _plain_fields(NotPlain) is None
    assert _plain_instance(NotPlain, {"text": "x"}) is None


def test_params_for_still_reports_what_cattrs_reports():
    handler = JobHandler("plainjob", lambda ctx: {}, params=Plain)

    def built(**given):
        return params_for(handler, JobParameters.from_dict(given, job_type="plainjob"))

    assert built(text="hi", count=4) == Plain("hi", 4)
    with pytest.raises(InvalidParameters, match="limit must be >= 0"):
        built(text="hi", limit=-1)
    with pytest.raises(InvalidParameters, match=r"parameters\.text"):
        built(count=1)
