"""The domain error hierarchy, mapped to HTTP status once (see `exception_handlers`)."""

from __future__ import annotations

import math
import re
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend import i18n


class DomainError(Exception):
    """Base of every error a service raises; carries a status, a message and details."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        extra: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status_code": self.status_code, "detail": self.message}
        if self.field is not None:
            body["errors"] = [{"field": self.field, "message": self.message}]
        if self.extra is not None:
            body["extra"] = self.extra
        return body


class NotFound(DomainError):
    status_code = HTTP_404_NOT_FOUND


class Conflict(DomainError):
    status_code = HTTP_409_CONFLICT


class Invalid(DomainError):
    """Input that parses but breaks a rule: 422 naming the field."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


class Forbidden(DomainError):
    status_code = HTTP_403_FORBIDDEN


class Unauthorized(DomainError):
    status_code = HTTP_401_UNAUTHORIZED


class TooManyRequests(DomainError):
    """A rate limit: 429 with `Retry-After` (whole seconds, at least 1)."""

    status_code = HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, message: str, retry_after_s: float, **kw: Any) -> None:
        wait = max(1, math.ceil(retry_after_s))
        super().__init__(
            message, headers={"Retry-After": str(wait)}, extra={"retry_after_s": wait}, **kw
        )


RETRY_AFTER_S = 2  # seconds a client waits before retrying while the database is away

_KEY_RE = re.compile(r"Key \(([^)]*)\)=")


def _columns_from_detail(detail: str | None) -> list[str]:
    m = _KEY_RE.search(detail or "")
    if not m:
        return []
    return [c.strip() for c in m.group(1).split(",") if c.strip() != "tenant_id"]


def _columns_of_constraint(table: str | None, name: str | None) -> list[str]:
    """The columns of a named constraint or unique index, from the models' metadata (under
    row-level security PostgreSQL leaves the key out of its message, so it cannot tell us)."""
    from backend.db.base import Base  # the models import this module's errors

    found = Base.metadata.tables.get(table or "")
    if found is None or not name:
        return []
    for c in [*found.constraints, *found.indexes]:
        if getattr(c, "name", None) == name:
            return [col.name for col in getattr(c, "columns", ()) if col.name != "tenant_id"]
    return []


def domain_error_from_integrity(exc: IntegrityError, *, deleting: bool = False) -> DomainError:
    """Turn a constraint violation into the error a client can act on."""
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    detail = getattr(cause, "detail", None) or str(orig)
    cols = _columns_from_detail(detail) or _columns_of_constraint(
        getattr(cause, "table_name", None), getattr(cause, "constraint_name", None)
    )
    if not cols and getattr(cause, "column_name", None):
        cols = [str(cause.column_name)]  # type: ignore[union-attr]
    field = ",".join(cols) or None
    if sqlstate == "23505":
        return Conflict(f"{field or 'record'} already exists", field=field)
    if sqlstate == "23503":
        if deleting or "is still referenced" in (detail or "") or "update or delete" in str(orig):
            return Conflict("record is still referenced by other records", field=field)
        return Invalid(f"unknown {field or 'reference'}", field=field)
    if sqlstate == "23514":
        return Invalid("value breaks a check constraint", field=field)
    if sqlstate == "23502":
        return Invalid("a required value is missing", field=field)
    return Conflict("the change conflicts with existing data")


def _in_language(request: Request[Any, Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The body's messages in the caller's language (backend/i18n); fields and codes stay."""
    locale = i18n.locale_of(request.scope)
    if locale == i18n.SOURCE:
        return body
    out = dict(body)
    if isinstance(out.get("detail"), str):
        out["detail"] = i18n.tr(out["detail"], locale)
    if isinstance(out.get("errors"), list):
        out["errors"] = [
            {**e, "message": i18n.tr(e["message"], locale)}
            if isinstance(e, dict) and isinstance(e.get("message"), str)
            else e
            for e in out["errors"]
        ]
    return out


def _domain_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return Response(
        content=_in_language(request, exc.body()),
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=exc.headers,
    )


def _validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            field = item.get("key") or item.get("field")
            errors.append(
                {"field": field, "message": item.get("message"), "source": item.get("source")}
            )
    body = {"status_code": 422, "detail": exc.detail or "Validation failed", "errors": errors}
    return Response(content=_in_language(request, body), status_code=HTTP_422_UNPROCESSABLE_ENTITY)


def _integrity_handler(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    return _domain_handler(_, domain_error_from_integrity(exc))


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    for e in (orig, getattr(orig, "__cause__", None)):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str):
            return state
    return ""


_UNSTORABLE = Invalid(
    "a value cannot be stored as given (a NUL character, an out-of-range number or date)"
)


def _data_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _domain_handler(_, _UNSTORABLE)


# Connection exceptions (08), the server shutting down or starting up (57P01-57P03).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")
_OUTAGE_CAUSES = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)


def _closed(exc: BaseException) -> bool:
    # asyncpg says "interface error" both for a connection that went away under a transaction
    # and for misuse of its API; only the first is an outage. Around a database restart a
    # connection can also be left mid-operation ("another operation is in progress").
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return "closed" in str(exc)
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return "in progress" in str(exc)
    return False


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if _sqlstate(exc).startswith(_OUTAGE_STATES):
        return True
    seen: BaseException | None = exc
    for _ in range(5):  # the driver's error, SQLAlchemy's adapter, SQLAlchemy's wrapper
        if seen is None:
            break
        if isinstance(seen, _OUTAGE_CAUSES) or _closed(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _unavailable() -> Response[Any]:
    # Tell the client to come back; the pool reconnects by itself (pre-ping).
    return Response(
        content={"status_code": 503, "detail": "database unavailable"},
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
        media_type=MediaType.JSON,
    )


def _dbapi_handler(_: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    if _sqlstate(exc).startswith("22"):
        # Class 22, data exception: what the client sent, not our failure.
        return _domain_handler(_, _UNSTORABLE)
    if _is_outage(exc):
        return _unavailable()
    raise exc


def _os_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The database socket refused or dropped.
    return _unavailable()


def _interface_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if _closed(exc):
        return _unavailable()
    raise exc


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    # Litestar's own errors (bad token, unknown path, method not allowed) as JSON, whatever
    # the handler's media type (the metrics endpoint sends text).
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(
        content=_in_language(request, body),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _domain_handler,
    ValidationException: _validation_handler,
    IntegrityError: _integrity_handler,
    HTTPException: _http_handler,
    DBAPIError: _dbapi_handler,
    # The database's socket refused, reset or broke: SQLAlchemy re-raises some of these as
    # they are (a reset during the connection's TLS probe while the server shuts down).
    ConnectionError: _os_error_handler,
    # The ingest hot path talks to asyncpg directly: its connection errors are outages too.
    asyncpg.exceptions.PostgresConnectionError: _os_error_handler,
    asyncpg.exceptions.ConnectionDoesNotExistError: _os_error_handler,
    asyncpg.exceptions.CannotConnectNowError: _os_error_handler,
    asyncpg.exceptions.AdminShutdownError: _os_error_handler,
    asyncpg.exceptions.InterfaceError: _interface_error_handler,
    asyncpg.exceptions.InternalClientError: _interface_error_handler,
    asyncpg.exceptions.DataError: _data_error_handler,
}

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "HTTPException",
    "Invalid",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "domain_error_from_integrity",
    "exception_handlers",
]
