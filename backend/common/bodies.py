"""One JSON decoding limit for every request body: its size (413) and its nesting depth (422).

Every JSON body the API reads goes through `decode_json`: the handlers Litestar feeds
(`LimitedRequest.json`, set as the app's request class) and the uploads that read their body
themselves (backend/tracking/controllers.py). A body nested deeper than any schema of ours
(GeoJSON multipolygons are the deepest, at 4 levels; free-form `attributes` objects may nest
further) is refused before it is decoded: a parser, a validator or an encoder that recurses
would otherwise run out of stack on it (a 1,000-level body answered 500).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty

from backend.errors import DomainError, Invalid

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32


class PayloadTooLarge(DomainError):
    status_code = 413


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def json_depth_over(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `body` nests more than `limit` arrays or objects deep.

    All in C-speed steps (no Python loop over the bytes): escapes are cut out, then all but
    brackets and quotes, then what lies between quotes (strings), leaving the brackets. Each
    round of removing the empty pairs `[]` and `{}` peels one level (one pass over the text:
    pairs a removal brings together wait for the next round), so `limit` rounds that leave
    brackets behind mean deeper than `limit`. Up to the first syntax error this reads strings
    as a parser does, and a parser stops there: it never goes deeper than this finds. Unbalanced
    brackets count as too deep: they are not JSON either, and the parser need not see them.
    """
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)
    structure = body.translate(None, _NOT_STRUCTURE)
    if structure.count(b"[") + structure.count(b"{") <= limit:
        return False  # not enough brackets to be that deep: the common case
    # Two quotes side by side are an empty string or the end of one and the start of the next:
    # dropping them leaves every bracket inside or outside a string as it was, and most of the
    # quotes go (strings rarely hold brackets). What lies between the rest is inside strings.
    structure = structure.replace(b'""', b"")
    brackets = b"".join(structure.split(b'"')[::2]) if b'"' in structure else structure
    for _ in range(limit):
        if not brackets:
            return False
        peeled = _EMPTY_PAIR.sub(b"", brackets)
        if len(peeled) == len(brackets):
            return True  # no pair left to peel: unbalanced
        brackets = peeled
    return bool(brackets)


def decode_json(body: bytes, field: str = "body", max_bytes: int | None = MAX_JSON_BYTES) -> Any:
    """The body as JSON within the limits, or 413 / 422 naming `field`. NaN and Infinity are
    read (not JSON, but phones send them; validation then refuses them per field). Bulk
    imports pass `max_bytes=None`: the server's own body limit (10 MB) is theirs."""
    if max_bytes is not None and len(body) > max_bytes:
        raise PayloadTooLarge(
            f"body over the limit of {max_bytes} bytes ({max_bytes / 2**20:g} MiB)", field=field
        )
    if json_depth_over(body):
        raise Invalid(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", field=field)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        pass  # NaN and Infinity, or really not JSON: the standard library's reader decides
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"not JSON: {exc}", field=field) from exc
    try:  # the standard library reads "\ud800" into a string no UTF-8 can hold
        msgspec.json.encode(value)
    except UnicodeEncodeError as exc:
        raise Invalid("a string is not valid Unicode (a lone surrogate)", field=field) from exc
    return value


class LimitedRequest(Request[Any, Any, Any]):
    """Litestar's request, whose JSON body is read by `decode_json`."""

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                body = await self.body()
                self._json = self._connection_state.json = decode_json(body) if body else None
        return self._json
