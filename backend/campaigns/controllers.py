"""HTTP routes: campaign target lists."""

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from backend.campaigns.schemas import CampaignCreate, CampaignMemberOut, CampaignOut, MemberStatus
from backend.campaigns.services import CampaignService
from backend.common.deps import per_request


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]
    dependencies = {"campaign_service": per_request(CampaignService)}

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
        campaign_service: NamedDependency[CampaignService],
        data: JSONBody[CampaignCreate],
    ) -> CampaignOut:
        return await campaign_service.create(data)

    @get("/", operation_id="ListCampaigns")
    async def list_campaigns(
        self, campaign_service: NamedDependency[CampaignService]
    ) -> list[CampaignOut]:
        return await campaign_service.all()

    @get("/{campaign_id:uuid}", operation_id="GetCampaign")
    async def get_campaign(
        self,
        campaign_service: NamedDependency[CampaignService],
        campaign_id: FromPath[uuid.UUID],
    ) -> CampaignOut:
        return await campaign_service.get(campaign_id)

    @get("/{campaign_id:uuid}/members", operation_id="ListCampaignMembers")
    async def list_members(
        self,
        campaign_service: NamedDependency[CampaignService],
        campaign_id: FromPath[uuid.UUID],
        status: FromQuery[MemberStatus | None] = None,
        agent_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[CampaignMemberOut]:
        return await campaign_service.members(campaign_id, status, agent_id)
