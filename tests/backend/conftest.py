"""Tenants built through the real API, shared by the tests of one module."""

from __future__ import annotations

from typing import Any

import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.backend.world import Tenant, make_tenant


@pytest_asyncio.fixture(scope="module")
async def tenant(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> Tenant:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await make_tenant(client, session)


@pytest_asyncio.fixture(scope="module")
async def other_tenant(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> Tenant:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await make_tenant(client, session)


def errors_for(resp: Any) -> list[str]:
    """The fields a 4xx body names."""
    return [e.get("field") for e in resp.json().get("errors", [])]
