"""Safe retries: a POST or PATCH sent again with the same `Idempotency-Key` header gets the
first response, not a second effect (the IETF httpapi draft "The Idempotency-Key HTTP Header
Field").

A phone that timed out cannot know whether its check-in, outcome, note or re-plan arrived;
it sends it again with the same key. Per tenant and caller (the user, or the store app), a key
is reserved when its request arrives and holds the response once there is one, for a day:

- the same key and the same request (method, path, query and body) again: the first
  response, status, body and content type, marked `Idempotent-Replayed: true`;
- the same key with another request: 422 naming the header (the key was reused by mistake);
- the same key while the first is still being processed: 409, `Retry-After: 1`;
- a key that is not 1 to 255 printable ASCII characters: 422 naming the header.

A response the server could not complete (5xx) or a 429 is not kept: the retry runs again.
The phone's uploads (`/ingest/`) have client ids of their own and are left alone, and so are
requests without a caller (login, enrollment). A reservation whose request never finished
(the process died) is taken over after `ABANDONED_S`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

HEADER = "Idempotency-Key"
KEEP = timedelta(days=1)
ABANDONED_S = 120
MAX_BODY = 4 * 1024 * 1024  # requests larger than this are not made idempotent (413)
METHODS = {"POST", "PATCH"}
SKIP_PREFIXES = ("/ingest/", "/auth/")
_NOT_KEPT = {429}

RESERVE = text(
    """INSERT INTO idempotency_keys (tenant_id, caller_id, key, fingerprint)
       VALUES (:tenant, :caller, :key, :fingerprint)
       ON CONFLICT (tenant_id, caller_id, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, created_at = now(), status = NULL,
               body = NULL, content_type = NULL
           WHERE idempotency_keys.created_at < now() - CAST(:keep AS interval)
              OR (idempotency_keys.status IS NULL
                  AND idempotency_keys.created_at < now() - CAST(:abandoned AS interval))
       RETURNING true AS reserved"""
)
FOUND = text(
    """SELECT fingerprint, status, body, content_type FROM idempotency_keys
       WHERE tenant_id = :tenant AND caller_id = :caller AND key = :key"""
)
KEPT = text(
    """UPDATE idempotency_keys SET status = :status, body = :body, content_type = :content_type
       WHERE tenant_id = :tenant AND caller_id = :caller AND key = :key"""
)
RELEASE = text(
    "DELETE FROM idempotency_keys WHERE tenant_id = :tenant AND caller_id = :caller AND key = :key"
)
EXPIRED = text("DELETE FROM idempotency_keys WHERE created_at < :before")


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(0x20 < ord(ch) < 0x7F for ch in key)


def fingerprint(scope: Any, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
        h.update(part.encode() + b"\0")
    h.update(body)
    return h.hexdigest()


def on_app_init(app_config: AppConfig) -> AppConfig:
    """Innermost of the app's middleware: the caller is known (authentication ran)."""
    app_config.middleware.append(DefineMiddleware(_middleware))
    return app_config


async def forget_idempotency_keys(session: Any, now: datetime) -> int:
    """Keys older than a day (a job); returns how many were deleted."""
    result = await session.execute(EXPIRED, {"before": now - KEEP})
    return int(getattr(result, "rowcount", 0) or 0)


async def _problem(
    send: Any, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """An error in the service's shape (backend/errors.py), naming the header."""
    body = json.dumps(
        {"status_code": status, "detail": detail,
         "errors": [{"field": HEADER, "message": detail}]}
    ).encode()  # fmt: skip
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Any) -> tuple[bytes, bool] | None:
    """The whole body, and whether it fitted in MAX_BODY; None when the client went away
    before sending all of it (nothing is run, nothing kept: a part is not the request)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _middleware(app: ASGIApp) -> ASGIApp:
    async def idempotent(asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: Any = asgi_scope
        user = scope.get("user")
        key = _key(scope) if scope["type"] == "http" else None
        if (
            key is None
            or scope["method"] not in METHODS
            or user is None
            or scope["path"].startswith(SKIP_PREFIXES)
        ):
            await app(scope, receive, send)
            return
        if not valid_key(key):
            await _problem(send, 422, f"{HEADER} must be 1 to 255 printable ASCII characters")
            return
        read = await _read(receive)
        if read is None:
            return
        body, fits = read
        if not fits:
            await _problem(send, 413, f"a request over {MAX_BODY} bytes cannot carry {HEADER}")
            return
        engine: AsyncEngine = scope["app"].state["system_engine"]
        ids = {"tenant": user.tenant_id, "caller": user.id, "key": key}
        await _once(app, scope, send, engine, ids, fingerprint(scope, body), body)

    return idempotent


def _key(scope: Any) -> str | None:
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            return str(value.decode("latin-1"))
    return None


async def _once(
    app: ASGIApp,
    scope: Any,
    send: Any,
    engine: AsyncEngine,
    ids: dict[str, Any],
    print_: str,
    body: bytes,
) -> None:
    async with engine.begin() as conn:
        stale = {"keep": KEEP, "abandoned": timedelta(seconds=ABANDONED_S)}
        reserved = (await conn.execute(RESERVE, {**ids, "fingerprint": print_, **stale})).first()
        found = None if reserved else (await conn.execute(FOUND, ids)).first()
    if not reserved:
        if found is None:  # released by the first request's failure just now: try again
            await _problem(
                send, 409, f"a request with this {HEADER} just failed", {"Retry-After": "1"}
            )
        elif found.fingerprint != print_:
            await _problem(send, 422, f"this {HEADER} was used for another request")
        elif found.status is None:
            busy = f"a request with this {HEADER} is still in progress"
            await _problem(send, 409, busy, {"Retry-After": "1"})
        else:
            await _replay(send, found.status, found.body, found.content_type)
        return
    try:
        status, content_type, chunks = await _run(app, scope, body)
    except BaseException:
        # No response to keep (the client went away, or the app raised past its own error
        # handling): the key is free again, so the retry runs, rather than a 409 until the
        # reservation counts as abandoned.
        async with engine.begin() as conn:
            await conn.execute(RELEASE, ids)
        raise
    async with engine.begin() as conn:
        if status >= 500 or status in _NOT_KEPT:
            await conn.execute(RELEASE, ids)
        else:
            await conn.execute(
                KEPT, {**ids, "status": status, "body": chunks[1], "content_type": content_type}
            )
    await send(chunks[0])
    await send({"type": "http.response.body", "body": chunks[1]})


async def _run(app: Any, scope: Any, body: bytes) -> tuple[int, str | None, Any]:
    """The request run with its body, its response held: (status, content type, (start
    message, body))."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    start: dict[str, Any] = {}
    parts: list[bytes] = []

    async def hold(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, hold)
    headers = MutableScopeHeaders({"headers": list(start.get("headers", []))})
    return int(start["status"]), headers.get("content-type"), (start, b"".join(parts))


async def _replay(send: Any, status: int, body: bytes, content_type: str | None) -> None:
    headers = [(b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
