"""Login and who-am-I."""

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.schemas import LoginRequest, Me, TokenResponse
from backend.auth.security import Principal
from backend.auth.services import AuthService, me


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", operation_id="Login", status_code=200, security=[])
    async def login(self, state: State, data: JSONBody[LoginRequest]) -> TokenResponse:
        settings = state["settings"]
        # Which tenant the caller belongs to is what login finds out: it reads across tenants
        # (by the tenant's slug and the email), on the system engine.
        async with AsyncSession(state["system_engine"]) as session:
            return await AuthService(session, settings.secret, settings.token_ttl_s).login(data)

    @get("/me", operation_id="GetMe")
    async def get_me(self, request: Request[Principal, Any, Any]) -> Me:
        return me(request.user)
