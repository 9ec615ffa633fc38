"""Device credentials: a phone enrolls with a one-time code and never needs a password.

The flow (docs/security.md, "Devices"), as OAuth 2.0 would describe it:

1. An admin or a manager of the agent issues a one-time enrollment code for the agent's
   device (`POST /devices/{id}/enrollment`): 12 characters, valid 15 minutes, shown once
   with a QR payload for the app to scan. A newer code replaces any unused one.
2. The app exchanges it (`POST /auth/device/enroll`, no other credential) for an access token
   (a JWT naming the agent, the tenant and the device; 15 minutes) and a refresh token
   (30 days). The code is spent; a device enrolled by a manager's code is approved.
3. Before the access token expires the app sends the refresh token
   (`POST /auth/device/token`, `grant_type=refresh_token`) and gets a new pair: the refresh
   token rotates on every use (RFC 6819 5.2.2.3, OAuth 2.0 Security BCP 4.14). A refresh token
   used a second time means two parties hold it: its whole family (every token rotated from
   the same enrollment) is revoked, and the app must enroll again.
4. Revoking the device (lost phone: `PATCH /devices/{id}` `revoked: true`) refuses its access
   tokens on the next request (the device is checked on every request) and revokes its
   refresh tokens.

Codes and tokens are kept as SHA-256 hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal, issue_device_token
from backend.db.base import uuid7

CODE_TTL_S = 15 * 60
ACCESS_TTL_S = 15 * 60
REFRESH_TTL_S = 30 * 24 * 3600
# No 0 / O, 1 / I: a code is read off a screen and typed when the camera cannot scan it.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_CHARS = 12  # 60 bits


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normal_code(code: str) -> str:
    """The code as issued, whatever the case and separators it was typed with."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True, slots=True)
class Issued:
    code: str
    expires_at: datetime


SUPERSEDE = text(
    """UPDATE device_enrollments SET expires_at = least(expires_at, now())
       WHERE tenant_id = :tenant AND device_id = :device AND used_at IS NULL"""
)
ENROLL = text(
    """INSERT INTO device_enrollments (tenant_id, id, device_id, code_hash, created_by,
                                       expires_at)
       VALUES (:tenant, :id, :device, :hash, :by, :expires)"""
)


async def issue_code(session: AsyncSession, p: Principal, device_id: uuid.UUID) -> Issued:
    """A new one-time code for the device (the caller's access to it checked before)."""
    code = new_code()
    expires = datetime.now(UTC) + timedelta(seconds=CODE_TTL_S)
    params = {"tenant": p.tenant_id, "device": device_id}
    await session.execute(SUPERSEDE, params)
    await session.execute(
        ENROLL, {**params, "id": uuid7(), "hash": _sha(normal_code(code)), "by": p.id,
                 "expires": expires},
    )  # fmt: skip
    return Issued(code, expires)


@dataclass(frozen=True, slots=True)
class Credentials:
    access_token: str
    refresh_token: str
    device_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID


class Refused(Exception):
    """Why a code or a refresh token is refused (a 401 with the reason, naming the field)."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


CODE = text(
    """SELECT e.tenant_id, e.id, e.device_id, e.expires_at, e.used_at, d.user_id,
              d.revoked_at AS device_revoked_at, u.active
       FROM device_enrollments e
       JOIN tenants t ON t.id = e.tenant_id
       JOIN devices d ON d.tenant_id = e.tenant_id AND d.id = e.device_id
       JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.user_id
       WHERE e.code_hash = :hash AND t.slug = :slug
       FOR UPDATE OF e"""
)
SPEND = text(
    """WITH spent AS (
           UPDATE device_enrollments SET used_at = now() WHERE tenant_id = :tenant AND id = :id
       )
       UPDATE devices SET approved_at = coalesce(approved_at, now())
       WHERE tenant_id = :tenant AND id = :device"""
)
NEW_TOKEN = text(
    """INSERT INTO device_refresh_tokens (tenant_id, id, device_id, family_id, token_hash,
                                          expires_at)
       VALUES (:tenant, :id, :device, :family, :hash, now() + make_interval(secs => :ttl))"""
)


async def enroll(session: AsyncSession, secret: str, tenant: str, code: str) -> Credentials:
    """Spend a code (on the system engine: it names its tenant by slug); Refused says why
    not. The caller commits."""
    row = (await session.execute(CODE, {"hash": _sha(normal_code(code)), "slug": tenant})).first()
    if row is None:
        raise Refused("unknown enrollment code", "code")
    if row.used_at is not None:
        raise Refused("this enrollment code was already used", "code")
    if row.expires_at <= datetime.now(UTC):
        raise Refused("this enrollment code has expired", "code")
    if row.device_revoked_at is not None or not row.active:
        raise Refused("this device is revoked, or its agent deactivated", "code")
    await session.execute(SPEND, {"tenant": row.tenant_id, "id": row.id, "device": row.device_id})
    return await _credentials(
        session, secret, row.tenant_id, row.user_id, row.device_id, family=uuid7()
    )


async def _credentials(
    session: AsyncSession,
    secret: str,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    device_id: uuid.UUID,
    family: uuid.UUID,
) -> Credentials:
    token_id = uuid7()
    refresh = f"fsr_{tenant_id.hex}_{token_id.hex}_{secrets.token_urlsafe(32)}"
    await session.execute(
        NEW_TOKEN,
        {"tenant": tenant_id, "id": token_id, "device": device_id, "family": family,
         "hash": _sha(refresh), "ttl": REFRESH_TTL_S},
    )  # fmt: skip
    access = issue_device_token(secret, user_id, tenant_id, device_id, ACCESS_TTL_S)
    return Credentials(access, refresh, device_id, user_id, tenant_id)


TOKEN = text(
    """SELECT r.tenant_id, r.id, r.device_id, r.family_id, r.token_hash, r.expires_at,
              r.used_at, r.revoked_at, d.user_id, d.revoked_at AS device_revoked_at, u.active
       FROM device_refresh_tokens r
       JOIN devices d ON d.tenant_id = r.tenant_id AND d.id = r.device_id
       JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.user_id
       WHERE r.tenant_id = :tenant AND r.id = :id
       FOR UPDATE OF r"""
)
REVOKE_FAMILY = text(
    """UPDATE device_refresh_tokens SET revoked_at = coalesce(revoked_at, now())
       WHERE tenant_id = :tenant AND family_id = :family"""
)
USE = text(
    "UPDATE device_refresh_tokens SET used_at = now() WHERE tenant_id = :tenant AND id = :id"
)


_TOKEN = "refresh_token"  # noqa: S105 - the field's name


def _token_key(token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    parts = token.split("_", 3)
    if len(parts) != 4 or parts[0] != "fsr":
        return None
    try:
        return uuid.UUID(hex=parts[1]), uuid.UUID(hex=parts[2])
    except ValueError:
        return None


async def refresh(session: AsyncSession, secret: str, token: str) -> Credentials:
    """Rotate a refresh token (on the system engine). A token used before revokes its family:
    Refused, after the revocation is written (the caller commits either way)."""
    key = _token_key(token)
    row = None
    if key is not None:
        row = (await session.execute(TOKEN, {"tenant": key[0], "id": key[1]})).first()
    if row is None or not hmac.compare_digest(row.token_hash, _sha(token)):
        raise Refused("unknown refresh token", _TOKEN)
    if row.revoked_at is not None:
        raise Refused("this refresh token has been revoked; enroll the device again", _TOKEN)
    if row.used_at is not None:
        await session.execute(REVOKE_FAMILY, {"tenant": row.tenant_id, "family": row.family_id})
        raise Refused(
            "this refresh token was already used: every token of its family is revoked; "
            "enroll the device again",
            _TOKEN,
        )
    if row.expires_at <= datetime.now(UTC):
        raise Refused("this refresh token has expired; enroll the device again", _TOKEN)
    if row.device_revoked_at is not None or not row.active:
        raise Refused("this device is revoked, or its agent deactivated", _TOKEN)
    await session.execute(USE, {"tenant": row.tenant_id, "id": row.id})
    return await _credentials(
        session, secret, row.tenant_id, row.user_id, row.device_id, family=row.family_id
    )


REVOKE_DEVICE = text(
    """UPDATE device_refresh_tokens SET revoked_at = coalesce(revoked_at, now())
       WHERE tenant_id = :tenant AND device_id = :device AND revoked_at IS NULL"""
)


async def revoke_device_tokens(
    session: AsyncSession, tenant_id: uuid.UUID, device_id: uuid.UUID
) -> None:
    """A revoked device's refresh tokens revoked too (its access tokens already fail: the
    device is checked on every request)."""
    await session.execute(REVOKE_DEVICE, {"tenant": tenant_id, "device": device_id})
