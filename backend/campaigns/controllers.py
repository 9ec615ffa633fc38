"""HTTP routes: campaign target lists."""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.security import Principal
from backend.campaigns.schemas import CampaignCreate, CampaignMemberOut, CampaignOut, MemberStatus
from backend.campaigns.services import CampaignService
from backend.common.deps import DbSession


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @post(
        "/",
        operation_id="CreateCampaign",
        description=(
            "A target list (win-back, up-sell, loyalty): the customers of the unit and its "
            "sub-units matching every filter, each with their assigned agent. Members are "
            "tracked from targeted to contacted (a visit in the campaign's dates) to converted "
            "(an appointment set or a sale); while it runs, `boost` is added to their scores."
        ),
    )
    async def create_campaign(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[CampaignCreate],
    ) -> CampaignOut:
        return await CampaignService(db_session, request.user).create(data)

    @get("/", operation_id="ListCampaigns")
    async def list_campaigns(
        self, db_session: DbSession, request: Request[Principal, Any, Any]
    ) -> list[CampaignOut]:
        return await CampaignService(db_session, request.user).all()

    @get("/{campaign_id:uuid}", operation_id="GetCampaign")
    async def get_campaign(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        campaign_id: FromPath[uuid.UUID],
    ) -> CampaignOut:
        return await CampaignService(db_session, request.user).get(campaign_id)

    @get("/{campaign_id:uuid}/members", operation_id="ListCampaignMembers")
    async def list_members(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        campaign_id: FromPath[uuid.UUID],
        status: FromQuery[MemberStatus | None] = None,
        agent_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[CampaignMemberOut]:
        return await CampaignService(db_session, request.user).members(
            campaign_id, status, agent_id
        )
