"""A parameters field with its own attrs converter gets the submitted JSON value as it is.

cattrs would otherwise structure the value by the field's annotation first: a comma-separated
string for a ``list[str]`` field reached the converter as a list of single characters, a list
for a ``str`` field as the text of the list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from jobworker import JobContext, JobHandler, hookimpl
from jobworker.testing import run_handler


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise ValueError(f"tags must be a list or a comma-separated string, not {value!r}")


def _joined(value: Any) -> str:
    return "+".join(value) if isinstance(value, list) else str(value)


@attrs.define
class TagParams:
    tags: list[str] = attrs.field(factory=list, converter=_names)
    languages: str = attrs.field(default="eng", converter=_joined)
    count: int = 1  # no converter: structured by its annotation, as before


def _tags(ctx: JobContext) -> dict[str, Any]:
    p: TagParams = ctx.params
    return {"structured_data": {"tags": p.tags, "languages": p.languages, "count": p.count}}


class TagPlugin:
    @hookimpl
    def register_job_handlers(self, register: Any) -> None:
        register(JobHandler("tags", _tags, params=TagParams, executor="thread"))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tags": "a, b,c"}, {"tags": ["a", "b", "c"], "languages": "eng", "count": 1}),
        ({"tags": ["x"], "languages": ["eng", "deu"]}, {"tags": ["x"], "languages": "eng+deu"}),
        ({"count": "3"}, {"tags": [], "count": 3}),
    ],
)
def test_converters_get_the_submitted_value(
    tmp_path: Path, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    run = run_handler("tags", params, plugins=[TagPlugin()], tmp_path=tmp_path)
    assert run.error is None, run.error
    data = run.results["structured_data"]
    assert {k: data[k] for k in expected} == expected


def test_a_converters_refusal_is_invalid_parameters(tmp_path: Path) -> None:
    run = run_handler("tags", {"tags": {"a": 1}}, plugins=[TagPlugin()], tmp_path=tmp_path)
    assert run.error is not None and run.error.code == "INVALID_PARAMETERS"
    assert "tags must be a list or a comma-separated string" in run.error.message
