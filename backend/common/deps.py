"""Dependency types shared by controllers (named explicitly, as Litestar 3 requires), and the
request's services, provided by Litestar's dependency injection."""

from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.auth.security import Principal

DbSession = NamedDependency[AsyncSession]
DbEngine = NamedDependency[AsyncEngine]
# A session for reads only, on a hot standby when one is within its lag bound
# (backend/db/replicas.py), else on the primary.
ReadSession = NamedDependency[AsyncSession]


async def read_session(request: Request[Principal, Any, Any]) -> AsyncIterator[AsyncSession]:
    """The request's read session; which database serves it is said in `X-Read-Source`. A
    standby that does not answer is set aside at once and the read goes to the primary."""
    reads = request.app.state["reads"]
    engine, source = reads.engine_for(request.user.id)
    session = AsyncSession(engine, expire_on_commit=False)
    if source == "replica":
        try:
            await session.connection()
        except Exception:
            await session.close()
            reads.failed(engine)
            engine, source = reads.primary, "primary"
            session = AsyncSession(engine, expire_on_commit=False)
    request.state.read_source = source
    async with session:
        yield session


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


def per_read(cls: type[S]) -> Provide:
    """As `per_request`, on the request's read session: for services that only read."""

    async def made(read_session: ReadSession, request: Request[Principal, Any, Any]) -> Any:
        return cls(read_session, request.user)

    return Provide(made)
