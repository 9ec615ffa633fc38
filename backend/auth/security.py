"""Who is calling: JWT bearer tokens for users, API keys for store apps."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend import i18n
from backend.db.models import StoreApp
from backend.db.tenancy import current_tenant, driver_of, tenant_scope
from backend.errors import DomainError, TooManyRequests

API_KEY_HEADER = "X-API-Key"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so timing does not tell.
DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as every service sees it."""

    kind: str  # "user" | "store_app"
    tenant_id: uuid.UUID
    id: uuid.UUID
    role: str  # "agent" | "manager" | "admin" | "store_app"
    org_unit_id: uuid.UUID
    org_path: tuple[uuid.UUID, ...] = ()
    store_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    # A phone's own credential (backend/org/enrollment.py): it speaks for this device only.
    device_id: uuid.UUID | None = None
    locale: str | None = None  # the user's language setting (backend/i18n)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    @property
    def is_store_app(self) -> bool:
        return self.kind == "store_app"


def new_api_key() -> tuple[str, str, str]:
    """A new store-app key: (full key shown once, public prefix, SHA-256 hex kept)."""
    prefix = secrets.token_hex(6)
    key = f"fsk_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hashlib.sha256(key.encode()).hexdigest()


def issue_token(secret: str, user_id: uuid.UUID, tenant_id: uuid.UUID, ttl_s: int) -> str:
    token = Token(
        sub=str(user_id),
        exp=datetime.now(UTC) + timedelta(seconds=ttl_s),
        extras={"tid": str(tenant_id)},
    )
    return token.encode(secret=secret, algorithm="HS256")


def issue_device_token(
    secret: str, user_id: uuid.UUID, tenant_id: uuid.UUID, device_id: uuid.UUID, ttl_s: int
) -> str:
    """A device's access token: the agent, their tenant and the device it was issued to."""
    token = Token(
        sub=str(user_id),
        exp=datetime.now(UTC) + timedelta(seconds=ttl_s),
        jti=uuid.uuid4().hex,  # each one its own, even two issued within a second
        extras={"tid": str(tenant_id), "did": str(device_id)},
    )
    return token.encode(secret=secret, algorithm="HS256")


PRINCIPAL_SQL = """
SELECT u.role, u.org_unit_id, o.path, u.locale
FROM users u JOIN org_units o ON o.tenant_id = u.tenant_id AND o.id = u.org_unit_id
WHERE u.tenant_id = $1 AND u.id = $2 AND u.active
"""


# A device's token holds while the device is its user's and not revoked (a lost phone is
# refused on its next request).
DEVICE_PRINCIPAL_SQL = """
SELECT u.role, u.org_unit_id, o.path, u.locale
FROM users u JOIN org_units o ON o.tenant_id = u.tenant_id AND o.id = u.org_unit_id
JOIN devices d ON d.tenant_id = u.tenant_id AND d.id = $3 AND d.user_id = u.id
WHERE u.tenant_id = $1 AND u.id = $2 AND u.active AND d.revoked_at IS NULL
"""


async def principal_for_user(
    engine: AsyncEngine,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    device_id: uuid.UUID | None = None,
) -> Principal | None:
    # Every request runs this: one indexed lookup on the driver, without the ORM's overhead.
    async with engine.connect() as conn:
        db = await driver_of(conn)
        if device_id is None:
            row = await db.fetchrow(PRINCIPAL_SQL, tenant_id, user_id)
        else:
            row = await db.fetchrow(DEVICE_PRINCIPAL_SQL, tenant_id, user_id, device_id)
    if row is None:
        return None
    return Principal(
        kind="user",
        tenant_id=tenant_id,
        id=user_id,
        role=row["role"],
        org_unit_id=row["org_unit_id"],
        org_path=tuple(row["path"]),
        device_id=device_id,
        locale=row["locale"],
    )


async def principal_for_api_key(engine: AsyncEngine, key: str) -> Principal | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "fsk":
        return None
    stmt = select(
        StoreApp.tenant_id, StoreApp.id, StoreApp.org_unit_id, StoreApp.store_ids, StoreApp.key_hash
    ).where(StoreApp.key_prefix == parts[1], StoreApp.revoked_at.is_(None))
    async with engine.connect() as conn:
        app = (await conn.execute(stmt)).first()
    if app is None:
        return None
    if not hmac.compare_digest(app.key_hash, hashlib.sha256(key.encode()).hexdigest()):
        return None
    return Principal(
        kind="store_app",
        tenant_id=app.tenant_id,
        id=app.id,
        role="store_app",
        org_unit_id=app.org_unit_id,
        store_ids=tuple(app.store_ids or ()),
    )


def _engine(connection: ASGIConnection[Any, Any, Any, Any], system: bool = False) -> AsyncEngine:
    engine: AsyncEngine = connection.app.state["system_engine" if system else "db_engine"]
    return engine


async def retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal | None:
    try:
        tenant_id = uuid.UUID(str(token.extras.get("tid")))
        user_id = uuid.UUID(token.sub)
        did = token.extras.get("did")
        device_id = uuid.UUID(str(did)) if did is not None else None
    except ValueError:
        return None
    # The token names its tenant (it is signed): from here on, this request's transactions
    # carry it. The lookup itself is the auth layer's, on the system engine (one round trip).
    current_tenant.set(tenant_id)
    engine = _engine(connection, system=True)
    return await principal_for_user(engine, tenant_id, user_id, device_id)


# Tokens whose signature and claims checked out, until they expire. A phone sends the same
# token with every upload for hours, and verifying it (PyJWT, HS256) was about 6 % of the CPU
# of a one-point upload. Who the token names is still looked up on every request (a
# deactivated user is refused at once); only the decoding is remembered.
_VERIFIED: dict[tuple[Any, ...], Token] = {}
_VERIFIED_MAX = 20_000


class RememberedToken(Token):
    """Litestar's token, whose `decode` remembers what it verified until the token expires
    (keyed by the token and everything it was checked against)."""

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> Self:
        checks = (audience, issuer, require_claims, verify_exp, verify_nbf, strict_audience)
        key = (encoded_token, secret, algorithm, repr(checks))
        token = _VERIFIED.get(key)
        if isinstance(token, cls) and token.exp > datetime.now(UTC):
            return token
        _VERIFIED.pop(key, None)
        token = super().decode(encoded_token, secret, algorithm, *checks)  # or raises
        if "nbf" not in token.extras:  # one with a start is checked again each time
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()  # rare, and only costs the next requests a check each
            _VERIFIED[key] = token
        return token


class TwoCredentials(DomainError):
    """A request carrying both an API key and a bearer token: which caller is it? Refused,
    rather than letting one silently win."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__(
            f"send one credential: an {API_KEY_HEADER} header or an Authorization bearer token,"
            " not both",
            field=f"{API_KEY_HEADER},Authorization",
        )

    def body(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "detail": self.message,
            "errors": [
                {"field": name, "message": self.message}
                for name in (API_KEY_HEADER, "Authorization")
            ],
        }


class AuthMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT bearer auth, plus `X-API-Key` for store apps; sets the tenant that the
    request's database connections carry (row-level security, backend/db/tenancy.py)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Nothing carries over from a previous request: no tenant; the language of the
        # request's headers until its caller is known (backend/i18n).
        undo = i18n.use(i18n.locale_of(scope))
        try:
            with tenant_scope(None):
                await super().__call__(scope, receive, send)
        finally:
            undo()

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = connection.headers.get(API_KEY_HEADER)
        if key is not None and connection.headers.get("Authorization") is not None:
            raise TwoCredentials()
        if key:
            # Which tenant a key belongs to is the question: asked across tenants.
            principal = await principal_for_api_key(_engine(connection, system=True), key)
            if principal is None:
                raise NotAuthorizedException("invalid API key")
            current_tenant.set(principal.tenant_id)
            state = connection.app.state
            wait = state["limiter"].hit(("api_key", principal.id), state["settings"].rate_api_key)
            if wait:
                raise TooManyRequests("too many requests for this API key", wait)
            return AuthenticationResult(user=principal, auth=None)
        result = await super().authenticate_request(connection)
        # The caller's own language setting, now that they are known.
        setting = getattr(result.user, "locale", None)
        i18n.use(i18n.negotiate(setting, connection.headers.get("accept-language")))
        return result


def make_jwt_auth(secret: str, ttl_s: int) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        token_secret=secret,
        token_cls=RememberedToken,
        retrieve_user_handler=retrieve_user,
        authentication_middleware_class=AuthMiddleware,
        default_token_expiration=timedelta(seconds=ttl_s),
        exclude=[
            "^/health",
            "^/ready",
            "^/schema",
            "^/auth/login",
            "^/auth/device/enroll",
            "^/auth/device/token",
            "^/manager",
        ],
    )
