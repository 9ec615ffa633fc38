"""HTTP routes: coaching notes, replies and acknowledgements."""

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.security import Principal
from backend.coaching.schemas import NoteCreate, NoteOut, ReplyCreate
from backend.coaching.services import CoachingService
from backend.common.deps import DbSession


class CoachingController(Controller):
    path = "/coaching-notes"
    tags = ["coaching"]

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
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[NoteCreate],
    ) -> NoteOut:
        return await CoachingService(db_session, request.user).create(data)

    @get("/", operation_id="ListCoachingNotes", description="Threads, newest first (500 at most).")
    async def list_notes(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        agent_id: FromQuery[uuid.UUID | None] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
    ) -> list[NoteOut]:
        return await CoachingService(db_session, request.user).find(agent_id, since, until)

    @get("/{note_id:uuid}", operation_id="GetCoachingNote")
    async def get_note(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        note_id: FromPath[uuid.UUID],
    ) -> NoteOut:
        return await CoachingService(db_session, request.user).get(note_id)

    @post("/{note_id:uuid}/replies", operation_id="ReplyToCoachingNote")
    async def reply(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        note_id: FromPath[uuid.UUID],
        data: JSONBody[ReplyCreate],
    ) -> NoteOut:
        return await CoachingService(db_session, request.user).reply(note_id, data)

    @post("/{note_id:uuid}/acknowledge", operation_id="AcknowledgeCoachingNote", status_code=200)
    async def acknowledge(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        note_id: FromPath[uuid.UUID],
    ) -> NoteOut:
        return await CoachingService(db_session, request.user).acknowledge(note_id)
