"""Login: check a password, issue a token."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import i18n
from backend.auth.schemas import LoginRequest, Me, TokenResponse
from backend.auth.security import DUMMY_HASH, Principal, issue_token, verify_password
from backend.db.models import Tenant, User
from backend.errors import Forbidden, Unauthorized


class AuthService:
    def __init__(self, session: AsyncSession, secret: str, ttl_s: int) -> None:
        self.session = session
        self.secret = secret
        self.ttl_s = ttl_s

    async def login(self, data: LoginRequest) -> TokenResponse:
        stmt = (
            select(User)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(Tenant.slug == data.tenant, func.lower(User.email) == data.email.lower())
        )
        user = (await self.session.scalars(stmt)).first()
        ok = verify_password(user.password_hash if user else DUMMY_HASH, data.password)
        if user is None or not ok or not user.active:
            raise Unauthorized("invalid tenant, email or password")
        token = issue_token(self.secret, user.id, user.tenant_id, self.ttl_s)
        return TokenResponse(
            access_token=token,
            expires_in=self.ttl_s,
            user=Me(
                kind="user",
                id=user.id,
                tenant_id=user.tenant_id,
                role=user.role,
                org_unit_id=user.org_unit_id,
            ),
        )


async def set_locale(session: AsyncSession, p: Principal, locale: str | None) -> Principal:
    """The caller's own language setting (None: their browser's); the caller as it is now."""
    if p.kind != "user":
        raise Forbidden("store apps have no language setting")
    await session.execute(
        update(User).where(User.tenant_id == p.tenant_id, User.id == p.id).values(locale=locale)
    )
    return replace(p, locale=locale)


def me(p: Principal) -> Me:
    return Me(
        kind=p.kind,
        id=p.id,
        tenant_id=p.tenant_id,
        role=p.role,
        org_unit_id=p.org_unit_id,
        store_ids=list(p.store_ids),
        device_id=p.device_id,
        locale=p.locale,
        language=i18n.current(),
    )
