"""OpenAPI helpers: request bodies a handler reads itself, and the error responses.

Litestar documents a body from the handler's `data` parameter; the ingest handlers parse the
body themselves, so they declare it with `documented_body(Model)` instead.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute
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


class ErrorItem(BaseModel):
    field: str | None = None
    message: str | None = None
    source: str | None = None


class ErrorBody(BaseModel):
    """Every error response: the status, what went wrong, and per field where it went wrong."""

    status_code: int
    detail: str
    errors: list[ErrorItem] | None = None
    extra: Any = None


_ERRORS = {
    400: "Both an X-API-Key and a bearer token: send one credential",
    401: "No or invalid credentials (bearer token or X-API-Key)",
    403: "The caller's role or org subtree does not allow this",
    404: "No such record in the caller's tenant and subtree",
    409: "The change conflicts with existing data",
    413: "The request is larger than the limit it names",
    422: "A field is missing or invalid; `errors` names it",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "The database is unavailable; retry after `Retry-After` seconds",
}
_PUBLIC = ("/health", "/ready", "/schema", "/manager", "/static")
_NO_CREDENTIALS = ("/auth/login",)
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def document_errors(app: Litestar) -> None:
    """Declare the error responses every operation can give, with their body, so that the
    OpenAPI document lists each status a client may see (schemathesis checks that it does)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(_PUBLIC):
            continue
        for handler in route.route_handlers:
            codes = {401, 403, 404, 422, 429, 503}
            if not route.path.startswith(_NO_CREDENTIALS):
                codes.add(400)  # two credentials (backend/auth/security.TwoCredentials)
            if set(handler.http_methods) & _WRITES:
                codes |= {409, 413}
            declared = dict(handler.responses or {})
            for code in sorted(codes - set(declared)):
                declared[code] = ResponseSpec(
                    data_container=ErrorBody, description=_ERRORS[code], generate_examples=False
                )
            handler.responses = declared


def true_allow_headers(app: Litestar) -> None:
    """Make every path's `OPTIONS` answer name every method the path serves.

    Litestar builds a path's route anew each time a handler joins it, and keeps the `OPTIONS`
    handler of the first build, whose `Allow` header lists that first build's methods only:
    `/customers` answered `Allow: OPTIONS, POST` though it serves GET too. The handler reads
    the methods of the route it was made for; here that route learns the final methods.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            fn = getattr(handler.fn, "__closure__", None) or ()
            if handler.http_methods != {"OPTIONS"} or handler.fn.__name__ != "options_handler":
                continue
            for cell in fn:
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents.methods = route.methods


def document_security(app: Litestar) -> None:
    """Say per operation which credentials it takes: none for the public ones (health,
    readiness, the schema, login, the manager page's files), and either a bearer token or a
    store app's `X-API-Key` for every other (what the auth middleware accepts). Litestar put
    the bearer token alone at the document's top, so public operations seemed to need it and
    API keys seemed to be refused everywhere."""
    openapi = app.openapi_schema
    openapi.security = None
    either: list[dict[str, list[str]]] = [{"BearerToken": []}, {"ApiKey": []}]
    for path, item in (openapi.paths or {}).items():
        public = path.startswith(_PUBLIC + _NO_CREDENTIALS)
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            operation = getattr(item, method, None)
            if operation is not None:
                operation.security = [] if public else list(either)
