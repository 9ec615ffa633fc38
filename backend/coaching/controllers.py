"""HTTP routes: coaching notes, replies and acknowledgements."""

import uuid
from datetime import date

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from backend.coaching.schemas import NoteCreate, NoteOut, ReplyCreate
from backend.coaching.services import CoachingService
from backend.common.deps import per_request


class CoachingController(Controller):
    path = "/coaching-notes"
    tags = ["coaching"]
    dependencies = {"coaching_service": per_request(CoachingService)}

    @post(
        "/",
        operation_id="CreateCoachingNote",
        description=(
            "A manager's note on an agent's day, visit or plan. `actions` bind the planner for "
            "that agent from `applies_from` to `applies_until`; the plans they shape list the "
            "note in `shaped_by`. Seen only by the agent and the managers above them."
        ),
    )
    async def create_note(
        self,
        coaching_service: NamedDependency[CoachingService],
        data: JSONBody[NoteCreate],
    ) -> NoteOut:
        return await coaching_service.create(data)

    @get("/", operation_id="ListCoachingNotes", description="Threads, newest first (500 at most).")
    async def list_notes(
        self,
        coaching_service: NamedDependency[CoachingService],
        agent_id: FromQuery[uuid.UUID | None] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
    ) -> list[NoteOut]:
        return await coaching_service.find(agent_id, since, until)

    @get("/{note_id:uuid}", operation_id="GetCoachingNote")
    async def get_note(
        self,
        coaching_service: NamedDependency[CoachingService],
        note_id: FromPath[uuid.UUID],
    ) -> NoteOut:
        return await coaching_service.get(note_id)

    @post("/{note_id:uuid}/replies", operation_id="ReplyToCoachingNote")
    async def reply(
        self,
        coaching_service: NamedDependency[CoachingService],
        note_id: FromPath[uuid.UUID],
        data: JSONBody[ReplyCreate],
    ) -> NoteOut:
        return await coaching_service.reply(note_id, data)

    @post("/{note_id:uuid}/acknowledge", operation_id="AcknowledgeCoachingNote", status_code=200)
    async def acknowledge(
        self,
        coaching_service: NamedDependency[CoachingService],
        note_id: FromPath[uuid.UUID],
    ) -> NoteOut:
        return await coaching_service.acknowledge(note_id)
