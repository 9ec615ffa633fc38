"""Login and who-am-I."""

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from backend.auth.schemas import LoginRequest, Me, TokenResponse
from backend.auth.security import Principal
from backend.auth.services import AuthService, me
from backend.common.deps import DbSession


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", operation_id="Login", status_code=200, security=[])
    async def login(
        self, db_session: DbSession, state: State, data: JSONBody[LoginRequest]
    ) -> TokenResponse:
        settings = state["settings"]
        return await AuthService(db_session, settings.secret, settings.token_ttl_s).login(data)

    @get("/me", operation_id="GetMe")
    async def get_me(self, request: Request[Principal, Any, Any]) -> Me:
        return me(request.user)
