"""Documenting request bodies a handler reads itself (to check each item on its own).

Litestar documents a body from the handler's `data` parameter; the ingest handlers parse the
body themselves, so they declare it with `documented_body(Model)` instead.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from pydantic import BaseModel

_KEYWORDS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_items",
    "maxItems": "max_items",
    "pattern": "pattern",
    "format": "format",
    "description": "description",
    "enum": "enum",
    "const": "const",
    "title": "title",
}


def _schema(node: dict[str, Any], defs: dict[str, Any]) -> Schema:
    """pydantic's JSON Schema (2020-12) as Litestar's Schema, with $refs inlined."""
    if "$ref" in node:
        return _schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    kw: dict[str, Any] = {attr: node[key] for key, attr in _KEYWORDS.items() if key in node}
    if "anyOf" in node:
        kw["any_of"] = [_schema(n, defs) for n in node["anyOf"]]
    if "type" in node:
        kw["type"] = OpenAPIType(node["type"])
    if "properties" in node:
        kw["properties"] = {k: _schema(v, defs) for k, v in node["properties"].items()}
        kw["required"] = node.get("required")
    if "items" in node:
        kw["items"] = _schema(node["items"], defs)
    if node.get("additionalProperties") is False:
        kw["additional_properties"] = False
    return Schema(**kw)


def documented_body(model: type[BaseModel]) -> type[Operation]:
    """An Operation class whose request body is `model`'s JSON schema."""
    raw = model.model_json_schema()
    schema = _schema(raw, raw.get("$defs", {}))

    class _Documented(Operation):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)}, required=True
            )

    _Documented.__name__ = f"{model.__name__}Operation"
    return _Documented
