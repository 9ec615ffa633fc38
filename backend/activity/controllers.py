"""HTTP routes: an agent's day, team figures and heat map, store figures, the audit log."""

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.activity.schemas import AuditOut, DayActivity, StoreFigures, TeamFigures
from backend.activity.services import ActivityService, audit_log
from backend.auth.security import Principal
from backend.common.deps import DbSession, per_read, per_request


class ActivityController(Controller):
    tags = ["activity"]
    dependencies = {
        "activity_service": per_request(ActivityService),
        # Figures and the heat map only read: a hot standby may serve them (docs/operations.md).
        "activity_reads": per_read(ActivityService),
    }

    @get(
        "/agents/{agent_id:uuid}/days/{day:date}",
        operation_id="GetAgentDay",
        description=(
            "The day as it happened, within the agent's working hours: visits, travel and idle "
            "time, the kept points as a line, events, and the plan against what was done. A "
            "manager's or admin's read is written to the audit log."
        ),
    )
    async def agent_day(
        self,
        activity_service: NamedDependency[ActivityService],
        agent_id: FromPath[uuid.UUID],
        day: FromPath[date],
    ) -> DayActivity:
        return await activity_service.day(agent_id, day)

    @get("/org-units/{unit_id:uuid}/figures", operation_id="GetTeamFigures")
    async def team_figures(
        self,
        activity_reads: NamedDependency[ActivityService],
        unit_id: FromPath[uuid.UUID],
        since: FromQuery[date],
        until: FromQuery[date],
    ) -> TeamFigures:
        return await activity_reads.team(unit_id, since, until)

    @get(
        "/org-units/{unit_id:uuid}/heatmap",
        operation_id="GetTeamHeatmap",
        description="GeoJSON grid cells with the visits made in each (for a heat map).",
    )
    async def heatmap(
        self,
        activity_reads: NamedDependency[ActivityService],
        unit_id: FromPath[uuid.UUID],
        since: FromQuery[date],
        until: FromQuery[date],
        cell_deg: Annotated[float, QueryParameter(gt=0.0005, le=1.0)] = 0.005,
    ) -> dict[str, Any]:
        return await activity_reads.heatmap(unit_id, since, until, cell_deg)

    @get("/places/{place_id:uuid}/figures", operation_id="GetStoreFigures")
    async def store_figures(
        self,
        activity_reads: NamedDependency[ActivityService],
        place_id: FromPath[uuid.UUID],
        since: FromQuery[date],
        until: FromQuery[date],
        tz: Annotated[
            str | None,
            QueryParameter(max_length=64, description="IANA zone; default: the tenant's"),
        ] = None,
    ) -> StoreFigures:
        return await activity_reads.store(place_id, since, until, tz)

    @get(
        "/audit-log",
        operation_id="ListAuditLog",
        description="Reads of location history by others, and erasures of it.",
    )
    async def audit(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        subject_user_id: FromQuery[uuid.UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[AuditOut]:
        return await audit_log(db_session, request.user, subject_user_id, limit)
