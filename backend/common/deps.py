"""Dependency types shared by controllers (named explicitly, as Litestar 3 requires), and the
request's services, provided by Litestar's dependency injection."""

from typing import Any, Protocol, TypeVar

from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.auth.security import Principal

DbSession = NamedDependency[AsyncSession]
DbEngine = NamedDependency[AsyncEngine]


class RequestService(Protocol):
    def __init__(self, session: AsyncSession, principal: Principal) -> None: ...


S = TypeVar("S", bound=RequestService)


def per_request(cls: type[S]) -> Provide:
    """`cls` made for each request from its session and its caller: a controller's
    `dependencies = {"plan_service": per_request(PlanService)}` and a handler's
    `plan_service: NamedDependency[PlanService]`. A service that refuses the caller (a store
    app where it has no access) answers before the handler runs, as it did inside it."""

    async def made(db_session: DbSession, request: Request[Principal, Any, Any]) -> Any:
        return cls(db_session, request.user)

    return Provide(made)
