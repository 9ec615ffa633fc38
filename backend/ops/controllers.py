"""Liveness, readiness (the database answers, PostGIS is there) and Prometheus metrics.

Health and readiness answer anyone, so they say ready or not and nothing more: no versions,
no error class names (a prober learns nothing to aim at)."""

import logging
from typing import Any, Literal

from litestar import Controller, MediaType, Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController
from pydantic import BaseModel
from sqlalchemy import text

from backend.auth.security import Principal
from backend.common.deps import DbEngine
from backend.errors import Forbidden

log = logging.getLogger(__name__)


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"] | None = None
    # With read replicas configured: `ok` when one serves reads, else why none does (reads
    # then go to the primary, and the service is ready all the same).
    replicas: Literal["ok", "lagging", "unavailable", "not_a_standby"] | None = None


class HealthController(Controller):
    tags = ["ops"]

    @get("/health", operation_id="GetHealth", security=[], exclude_from_auth=True)
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="GetReadiness", security=[], exclude_from_auth=True)
    async def ready(self, db_engine: DbEngine, state: State) -> Response[Health]:
        try:
            async with db_engine.connect() as conn:
                await conn.scalar(text("SELECT postgis_lib_version()"))
        except Exception:  # any failure to reach the database (or PostGIS) means "not ready"
            log.warning("not ready: the database or PostGIS does not answer", exc_info=True)
            return Response(
                Health(status="unavailable", database="unavailable"),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        replicas = state["reads"].state() if "reads" in state else None
        return Response(Health(status="ok", database="ok", replicas=replicas))


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("method") == "OPTIONS":
        return  # a preflight carries no credentials and reveals nothing but the methods
    user = connection.scope.get("user")
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
