"""Dependency types shared by controllers (named explicitly, as Litestar 3 requires)."""

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

DbSession = NamedDependency[AsyncSession]
DbEngine = NamedDependency[AsyncEngine]
