"""JSON Schema of a job type's parameters, generated from its attrs class by the same
machinery that writes the OpenAPI document (Litestar's attrs support): one set of classes."""

from __future__ import annotations

import functools
import json
from typing import Any

import attrs
from litestar import Litestar, post

__all__ = ["parameters_schema"]

_REF = "#/components/schemas/"


@functools.lru_cache(maxsize=256)
def parameters_schema(params: type) -> dict[str, Any]:
    """A self-contained JSON Schema (2020-12) for ``params``, nested classes under ``$defs``,
    with each field's default and the class's docstring as ``description``."""

    @post("/", sync_to_thread=False, signature_namespace={"params": params})
    # ``params`` is a class known only at run time: mypy cannot check it as an annotation.
    def probe(data: params) -> None:  # type: ignore[valid-type]
        """Only here to have Litestar describe ``params``."""

    components = Litestar([probe]).openapi_schema.to_schema()["components"]["schemas"]
    text = json.dumps(components).replace(_REF, "#/$defs/")
    defs: dict[str, Any] = json.loads(text)
    name = next(k for k, v in defs.items() if v.get("title") == params.__name__)
    schema = defs.pop(name)
    if attrs.has(params):
        for field in attrs.fields(params):
            prop = schema.get("properties", {}).get(field.alias or field.name)
            default = field.default
            if prop is not None and default is not attrs.NOTHING:
                if hasattr(default, "factory"):  # attrs.Factory: no single default value
                    continue
                try:
                    json.dumps(default)
                except TypeError:
                    continue
                prop.setdefault("default", default)
    if params.__doc__:
        schema.setdefault("description", params.__doc__.strip())
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    if defs:
        out["$defs"] = defs
    return out
