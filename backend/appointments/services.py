"""Appointments as records: who sees and changes which (an agent their own, a manager their
subtree's agents', an admin all), and the one an `appointment_set` outcome agrees."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from backend.appointments.schemas import (
    AppointmentAt,
    AppointmentCreate,
    AppointmentOut,
)
from backend.auth.scope import subtree_unit_ids
from backend.auth.security import Principal
from backend.common.crud import CrudService
from backend.customers.services import CustomerService
from backend.db.models import Appointment, User
from backend.errors import Forbidden, Invalid


class AppointmentService(CrudService[Appointment, AppointmentOut]):
    model = Appointment
    label = "appointment"
    time_order = "starts_at"

    def visible(self) -> ColumnElement[bool]:
        return self.visible_agent(Appointment.agent_id)

    def visible_agent(self, col: Any) -> ColumnElement[bool]:
        """`col` (an agent's id) is the caller, or an agent of their subtree (any, for an
        admin; none, for a store app)."""
        if self.p.is_store_app:
            return false()
        if self.p.is_agent:
            return col == self.p.id
        if self.p.is_admin:
            return true()
        return col.in_(
            select(User.id).where(
                User.tenant_id == self.p.tenant_id, User.org_unit_id.in_(subtree_unit_ids(self.p))
            )
        )

    def writable(self) -> ColumnElement[bool]:
        return self.visible()

    def may_create(self) -> bool:
        return not self.p.is_store_app

    async def whose(self, agent_id: uuid.UUID | None) -> uuid.UUID:
        """The agent a request is for: the one named, which the caller must manage, or the
        calling agent; a 422 naming `agent_id` when a manager names none."""
        if self.p.is_store_app:
            raise Forbidden("store apps keep no appointments")
        agent = agent_id or (self.p.id if self.p.is_agent else None)
        if agent is None:
            raise Invalid("whose appointments: agent_id", field="agent_id")
        await self.require_agent(agent, "agent_id")
        return agent

    async def create_values(self, data: AppointmentCreate) -> dict[str, Any]:
        agent_id = await self.whose(data.agent_id)
        await self.require_visible(CustomerService, data.customer_id, "customer_id")
        return {
            "agent_id": agent_id,
            "customer_id": data.customer_id,
            "starts_at": data.start,
            "latest_start_at": data.latest_start or data.start,
            "duration_min": data.duration_min,
            "status": data.status,
            "title": data.title,
            "note": data.note,
            "source": "api",
            "created_by": self.p.id,
        }

    async def update_values(self, row: Appointment, changes: dict[str, Any]) -> dict[str, Any]:
        values = {
            k: v for k, v in changes.items() if k in ("duration_min", "status", "title", "note")
        }
        for k in ("duration_min", "status"):
            if k in values and values[k] is None:
                raise Invalid(f"{k} cannot be cleared", field=k)
        start: datetime = changes.get("start") or row.starts_at
        latest: datetime = changes.get("latest_start") or (
            start if "start" in changes else row.latest_start_at
        )
        if latest < start:
            raise Invalid("latest_start is before start", field="latest_start")
        values |= {"starts_at": start, "latest_start_at": latest}
        return values

    def to_schema(self, row: Appointment) -> AppointmentOut:
        return AppointmentOut(
            id=row.id,
            agent_id=row.agent_id,
            customer_id=row.customer_id,
            start=row.starts_at,
            latest_start=row.latest_start_at,
            duration_min=row.duration_min,
            status=row.status,
            title=row.title,
            note=row.note,
            source=row.source,
            set_at_visit_id=row.set_at_visit_id,
            visit_id=row.visit_id,
            created_at=row.created_at,
        )

    def filters(
        self,
        agent_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> list[ColumnElement[bool]]:
        out = self.equal_filters(agent_id=agent_id, customer_id=customer_id, status=status)
        if since is not None:
            out.append(Appointment.starts_at >= since)
        if until is not None:
            out.append(Appointment.starts_at < until)
        return out


async def agreed_at_visit(
    session: AsyncSession,
    p: Principal,
    agent_id: uuid.UUID,
    customer_id: uuid.UUID,
    visit_id: uuid.UUID,
    at: AppointmentAt,
) -> uuid.UUID:
    """The appointment an `appointment_set` outcome agrees at a visit (the visit's agent and
    customer; one a visit: a second outcome with a time moves it)."""
    row = await session.scalar(
        select(Appointment).where(
            Appointment.tenant_id == p.tenant_id,
            Appointment.set_at_visit_id == visit_id,
            Appointment.status != "cancelled",
        )
    )
    window = {
        "starts_at": at.start,
        "latest_start_at": at.latest_start or at.start,
        "duration_min": at.duration_min,
        "title": at.title,
    }
    if row is None:
        row = Appointment(
            tenant_id=p.tenant_id,
            agent_id=agent_id,
            customer_id=customer_id,
            status="planned",
            source="outcome",
            set_at_visit_id=visit_id,
            created_by=p.id,
            **window,
        )
        session.add(row)
    else:
        for k, v in window.items():
            setattr(row, k, v)
    await session.flush()
    return row.id
