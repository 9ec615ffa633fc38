"""The Litestar application: `create_app()` wires settings, database, auth and routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import StructLoggingConfig
from litestar.middleware.logging import LoggingMiddlewareConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.activity.controllers import ActivityController
from backend.appointments.controllers import AppointmentController
from backend.appointments.keeping import keep_appointments
from backend.auth.controllers import AuthController
from backend.auth.ratelimit import RateLimiter
from backend.auth.security import API_KEY_HEADER, PRINCIPAL_SQL, make_jwt_auth
from backend.campaigns.controllers import CampaignController
from backend.campaigns.services import track_campaigns
from backend.coaching.controllers import CoachingController
from backend.common import idempotency
from backend.common.admission import UploadAdmission
from backend.common.bodies import LimitedRequest
from backend.common.deps import read_session
from backend.common.egress import TargetPolicy
from backend.common.idempotency import forget_idempotency_keys
from backend.common.openapi import document_errors, document_security, true_allow_headers
from backend.common.strict import (
    INSTANT_DECODER,
    InstantSchemaPlugin,
    StrictJsonPydanticPlugin,
    TimeOfDaySchemaPlugin,
)
from backend.config import Settings
from backend.customers.controllers import CustomerController, TransactionController
from backend.customers.rfm import score_customers
from backend.db.replicas import ReadRouter, ReadRouting
from backend.db.tenancy import NO_JIT, driver_of, drop_closed_connections, tenant_engine
from backend.errors import exception_handlers
from backend.geofences.controllers import GeofenceController, TerritoryController
from backend.geofences.services import FenceChanged
from backend.jobs.controllers import JobController
from backend.jobs.runner import JobRunner
from backend.live.controllers import LiveController, StreamSlots
from backend.live.feed import forget_live_events
from backend.live.hub import LiveHub
from backend.market.controllers import MarketController
from backend.ops.controllers import HealthController, MetricsController
from backend.org.controllers import (
    DeviceController,
    DeviceCredentialController,
    OrgUnitController,
    StoreAppController,
    UserController,
)
from backend.places.controllers import BeaconController, PlaceController, WifiAccessPointController
from backend.plans.calendar import CalendarController
from backend.plans.controllers import (
    AgentProfileController,
    PlanController,
    TeamPlanController,
    WeekPlanController,
)
from backend.plans.jobs import fulfil_plan_stops, plan_tomorrow
from backend.plans.pool import shutdown_pool, warm_pool
from backend.recommendations.controllers import RecommendationController
from backend.recommendations.learning import learn_from_outcomes
from backend.roads.services import networks
from backend.tenants.settings import TenantSettingsController
from backend.tracking.controllers import (
    DeviceTimelineController,
    ErasureController,
    EventController,
    IngestController,
    VisitController,
)
from backend.tracking.fence_changes import apply_fence_change
from backend.tracking.ingest import warm
from backend.tracking.jobs import close_finished_days, exit_silent_devices
from backend.tracking.queries import plan_fulfilment, visits, webhook_events
from backend.tracking.retention import enforce_retention
from backend.web.controllers import ManagerPageController, static_routers
from backend.webhooks.controllers import WebhookController
from backend.webhooks.dispatcher import Dispatcher

log = logging.getLogger(__name__)

ROUTES = [
    AuthController,
    HealthController,
    MetricsController,
    OrgUnitController,
    UserController,
    DeviceController,
    DeviceCredentialController,
    StoreAppController,
    CustomerController,
    TransactionController,
    PlaceController,
    BeaconController,
    WifiAccessPointController,
    GeofenceController,
    TerritoryController,
    IngestController,
    EventController,
    DeviceTimelineController,
    ErasureController,
    VisitController,
    AgentProfileController,
    PlanController,
    TeamPlanController,
    WeekPlanController,
    AppointmentController,
    CalendarController,
    RecommendationController,
    CampaignController,
    MarketController,
    WebhookController,
    JobController,
    CoachingController,
    ActivityController,
    LiveController,
    ManagerPageController,
    TenantSettingsController,
]


# A request makes thousands of short-lived objects (a batch of points: Fix, results, rows)
# and the default first-generation threshold (700 allocations) collected every few hundred
# points (about 4 us a point, measured outside the server). Raised, collections are rarer,
# and the objects the app made to start (routes, models, schemas: some 190,000) are frozen
# out of every collection, which would otherwise walk them all again and again. The ingest
# benchmark gained about 15% (docs/ingest.md).
GC_THRESHOLDS = (20_000, 20, 20)


def settle_garbage_collector() -> None:
    """Run at start-up, once the app is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def warm_connections(engine: AsyncEngine, system_engine: AsyncEngine, n: int) -> None:
    """Open `n` pooled connections on each engine and ready them for the requests every
    upload makes (backend/tracking/ingest.py `warm`, and finding the caller): a restarted
    server under steady traffic otherwise paid ~75 ms on each connection's first upload, while
    the requests queued behind those opened yet more cold connections (docs/ingest.md).
    The pools hand out their most recently used connection first, so these serve first."""
    nothing = uuid.UUID(int=0)
    try:
        async with contextlib.AsyncExitStack() as held:  # n at once: n distinct connections
            for _ in range(n):
                await warm(await driver_of(await held.enter_async_context(engine.connect())))
                raw = await driver_of(await held.enter_async_context(system_engine.connect()))
                await raw.fetchrow(PRINCIPAL_SQL, nothing, nothing)
    except (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # Not fatal: the requests open and ready their own, as they would without this.
        log.warning("could not ready database connections at start-up: %s", exc)


def _fence_changed() -> FenceChanged:
    """The geofences domain's services call it on every change of a fence: tracking's
    synthetic events for the devices the change moves in or out (the composition root wires
    the two, so that geofences need not import tracking)."""
    return apply_fence_change


# What one domain's services need of another that may not import it (the composition root
# wires them): a fence's change moves devices in or out (tracking reads fences); plan stops
# are fulfilled by visits (tracking reads plans).
_WIRED = {
    "fence_changed": Provide(_fence_changed, sync_to_thread=False),
    "plan_fulfilment": Provide(plan_fulfilment, sync_to_thread=False),
    "read_session": Provide(read_session),
}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (or run `fieldsense serve`, which starts one)")
    engine, system_engine = _engines(settings)
    db = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",
        set_default_exception_handler=False,
    )
    jwt_auth = make_jwt_auth(settings.secret, settings.token_ttl_s)
    prometheus = PrometheusConfig(
        app_name="fieldsense", prefix="fieldsense", group_path=True, exclude=["/metrics"]
    )
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    policy = TargetPolicy.from_settings(
        settings.webhook_require_https, settings.webhook_allow_networks
    )
    dispatcher = Dispatcher(
        system_engine,
        policy,
        settings.webhook_timeout_s,
        settings.webhook_retry_hours,
        events=webhook_events(),
    )
    jobs = _jobs(system_engine, settings, dispatcher)
    live = LiveHub(system_engine)
    reads = _read_router(settings, engine, system_engine)
    app = Litestar(
        route_handlers=[*ROUTES, *static_routers()],
        plugins=_plugins(settings, db),
        middleware=[prometheus.middleware, ReadRouting],
        on_app_init=[
            jwt_auth.on_app_init,
            UploadAdmission(settings.ingest_concurrency).on_app_init,
            idempotency.on_app_init,
        ],
        exception_handlers=exception_handlers,
        request_class=LimitedRequest,
        dependencies=_WIRED,
        type_decoders=[INSTANT_DECODER],
        openapi_config=_openapi(),
        state=State(
            {
                "settings": settings,
                "jobs": jobs,
                "db_engine": engine,
                "system_engine": system_engine,
                "limiter": RateLimiter(),
                "webhook_policy": policy,
                "webhook_events": webhook_events(),
                "dispatcher": dispatcher,
                "live": live,
                "reads": reads,
                "live_slots": StreamSlots(settings.live_streams_per_caller),
            }
        ),
        on_startup=[*_on_startup(settings, engine, system_engine, jobs), live.start, reads.start],
        on_shutdown=[
            reads.stop,
            live.stop,
            jobs.stop,
            networks.stop,
            dispatcher.close,
            engine.dispose,
            system_engine.dispose,
            shutdown_pool,
        ],
        debug=False,
    )
    document_errors(app)
    true_allow_headers(app)
    document_security(app)
    return app


def _on_startup(
    settings: Settings, engine: AsyncEngine, system_engine: AsyncEngine, jobs: JobRunner
) -> list[Callable[[], Any]]:
    """Connections first, then (serving processes, jobs on) the jobs and the planner's
    workers up front: everything starts when the process is ready to serve."""

    async def ready_connections() -> None:
        await warm_connections(
            engine, system_engine, min(settings.db_pool_warm, settings.db_pool_size)
        )

    async def start_roads() -> None:  # osrm-routed for imported graphs, or the URL given
        await asyncio.to_thread(networks.start, settings)

    on_startup: list[Callable[[], Any]] = [ready_connections, start_roads]
    if settings.jobs:
        on_startup += [jobs.start, warm_pool]
    on_startup.append(settle_garbage_collector)
    return on_startup


def _engines(settings: Settings) -> tuple[AsyncEngine, AsyncEngine]:
    """The request engine and the system engine."""
    # Requests: the app role, under row-level security, carrying the caller's tenant.
    engine = tenant_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_use_lifo=True,
        echo=settings.log_sql,
    )
    drop_closed_connections(engine)
    # Work across tenants on purpose: jobs, the webhook worker, login, and finding who is
    # calling (token or API key) on every request.
    system_engine = drop_closed_connections(
        create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_use_lifo=True,
            connect_args={"server_settings": NO_JIT},
        )
    )
    return engine, system_engine


def _read_router(settings: Settings, engine: AsyncEngine, system_engine: AsyncEngine) -> ReadRouter:
    """Where the read-only endpoints read: the standbys within their lag bound, else the
    primary (backend/db/replicas.py); their engines are made as the requests' engine is."""
    return ReadRouter.of(
        engine,
        system_engine,
        list(settings.read_database_urls),
        settings.read_max_lag_s,
        lambda url: drop_closed_connections(
            tenant_engine(
                url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_size,
                pool_use_lifo=True,
            )
        ),
    )


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="fieldsense",
        version="0.1.0",
        description="Backend for mobile field-sales teams and the stores they serve.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(
            security_schemes={
                "ApiKey": SecurityScheme(
                    type="apiKey", name=API_KEY_HEADER, security_scheme_in="header"
                )
            }
        ),
    )


def _jobs(system_engine: AsyncEngine, settings: Settings, dispatcher: Dispatcher) -> JobRunner:
    """Every periodic job (docs/operations.md lists them; tests/test_docs_drift.py checks)."""
    jobs = JobRunner(system_engine, intervals=settings.job_intervals)
    jobs.add("deliver_webhooks", dispatcher.job, every_s=settings.webhook_every_s, shared=True)
    jobs.add("exit_silent_devices", exit_silent_devices, every_s=60)
    jobs.add("close_finished_days", close_finished_days, every_s=60)
    jobs.add(
        "plan_tomorrow",
        partial(plan_tomorrow, fulfilment=plan_fulfilment()),
        every_s=120,
        shared=True,  # every process plans, each agent's day claimed by one (plans/jobs.py)
    )
    jobs.add(
        "fulfil_plan_stops", partial(fulfil_plan_stops, fulfilment=plan_fulfilment()), every_s=120
    )
    jobs.add("keep_appointments", partial(keep_appointments, visits=visits()), every_s=120)
    jobs.add("learn_from_outcomes", learn_from_outcomes, every_s=300)
    jobs.add("score_customers", score_customers, every_s=86_400)
    jobs.add("track_campaigns", track_campaigns, every_s=300)
    jobs.add("enforce_retention", enforce_retention, every_s=3600)
    jobs.add("forget_idempotency_keys", forget_idempotency_keys, every_s=3600)
    jobs.add("forget_live_events", forget_live_events, every_s=600)
    return jobs


def _plugins(settings: Settings, db: SQLAlchemyAsyncConfig) -> list[Any]:
    return [
        StrictJsonPydanticPlugin(),
        InstantSchemaPlugin(),
        TimeOfDaySchemaPlugin(),
        SQLAlchemyPlugin(config=db),
        StructlogPlugin(
            config=StructlogConfig(
                structlog_logging_config=StructLoggingConfig(
                    log_exceptions="always",
                    disable_stack_trace={400, 401, 403, 404, 405, 409, 413, 422, 429},
                ),
                # Bodies carry passwords and locations: log the request line and status only.
                enable_middleware_logging=settings.access_log,
                middleware_logging_config=LoggingMiddlewareConfig(
                    request_log_fields=("method", "path", "query"),
                    response_log_fields=["status_code"],
                ),
            )
        ),
    ]
