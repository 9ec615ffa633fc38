"""Liveness, readiness (the database answers, PostGIS is there) and Prometheus metrics."""

from typing import Any

from litestar import Controller, MediaType, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController
from pydantic import BaseModel
from sqlalchemy import text

from backend.auth.security import Principal
from backend.common.deps import DbEngine
from backend.errors import Forbidden


class Health(BaseModel):
    status: str
    database: str | None = None
    postgis: str | None = None


class HealthController(Controller):
    tags = ["ops"]

    @get("/health", operation_id="GetHealth", security=[], exclude_from_auth=True)
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="GetReadiness", security=[], exclude_from_auth=True)
    async def ready(self, db_engine: DbEngine) -> Response[Health]:
        try:
            async with db_engine.connect() as conn:
                version = await conn.scalar(text("SELECT postgis_lib_version()"))
        except Exception as exc:  # any failure to reach the database means "not ready"
            return Response(
                Health(status="unavailable", database=type(exc).__name__),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return Response(Health(status="ok", database="ok", postgis=str(version)))


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = connection.user
    if not isinstance(user, Principal) or not user.is_admin:
        raise Forbidden("metrics are for admins")


class MetricsController(PrometheusController):
    """Prometheus text format; scrape with an admin's bearer token."""

    path = "/metrics"
    guards = [admin_only]

    @get(media_type=MediaType.TEXT, operation_id="GetMetrics")
    async def get(self) -> Response[bytes]:
        # Litestar's handler, documented as what it sends: the Prometheus text format.
        response: Response[bytes] = await PrometheusController.get.fn(self)
        return response
