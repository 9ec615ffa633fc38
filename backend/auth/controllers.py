"""Login and who-am-I."""

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from backend import i18n
from backend.auth.ratelimit import RateLimiter
from backend.auth.schemas import LoginRequest, Me, MeUpdate, TokenResponse
from backend.auth.security import Principal
from backend.auth.services import AuthService, me, set_locale
from backend.errors import TooManyRequests, Unauthorized


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", operation_id="Login", status_code=200, security=[])
    async def login(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[LoginRequest]
    ) -> TokenResponse:
        settings = state["settings"]
        limiter: RateLimiter = state["limiter"]
        # Failed logins are throttled per account and per client address; while either is
        # over its limit the password is not even checked.
        account = ("login", data.tenant, data.email.lower())
        address = ("login_from", request.client.host if request.client else "")
        wait = max(
            limiter.retry_after(account, settings.login_failures_account),
            limiter.retry_after(address, settings.login_failures_address),
        )
        if wait:
            raise TooManyRequests("too many failed logins; try again later", wait)
        # Which tenant the caller belongs to is what login finds out: it reads across tenants
        # (by the tenant's slug and the email), on the system engine.
        try:
            async with AsyncSession(state["system_engine"]) as session:
                token = await AuthService(session, settings.secret, settings.token_ttl_s).login(
                    data
                )
        except Unauthorized:
            limiter.hit(account, settings.login_failures_account)
            limiter.hit(address, settings.login_failures_address)
            raise
        limiter.forget(account)
        return token

    @get("/me", operation_id="GetMe")
    async def get_me(self, request: Request[Principal, Any, Any]) -> Me:
        return me(request.user)

    @patch(
        "/me",
        operation_id="UpdateMe",
        description="The caller's own settings: `locale`, the language of the texts they read "
        "(en, ko; null: Accept-Language).",
    )
    async def update_me(
        self,
        db_session: NamedDependency[AsyncSession],
        request: Request[Principal, Any, Any],
        data: JSONBody[MeUpdate],
    ) -> Me:
        changed = await set_locale(db_session, request.user, data.locale)
        # This answer already in the new language.
        i18n.use(i18n.negotiate(changed.locale, request.headers.get("accept-language")))
        return me(changed)
