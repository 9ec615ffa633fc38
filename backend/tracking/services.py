"""Reading events and visits, manual check-in / check-out, and visit outcomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, false, or_, select, true

from backend.appointments.services import agreed_at_visit
from backend.auth.scope import subtree_unit_ids
from backend.common.crud import CrudService
from backend.customers.services import CustomerService
from backend.db.driver import raw_connection
from backend.db.models import Device, User
from backend.db.models import Event as EventRow
from backend.db.models import Visit as VisitRow
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.places.services import PlaceService
from backend.tracking.announce import announce
from backend.tracking.queries import plan_fulfilment
from backend.tracking.schemas import CheckIn, CheckOut, EventOut, VisitOut
from backend.tracking.stays import JOIN_WITHIN_S


def _people_scope(col: Any, svc: CrudService[Any, Any]) -> ColumnElement[bool]:
    p = svc.p
    if p.is_admin:
        return true()
    if p.is_agent:
        return col == p.id
    if p.is_manager:
        users = select(User.id).where(
            User.tenant_id == p.tenant_id, User.org_unit_id.in_(subtree_unit_ids(p))
        )
        return col.in_(users)
    return false()


def _window(
    at: Any, retracted_at: Any, since: datetime | None, until: datetime | None, retracted: bool
) -> list[ColumnElement[bool]]:
    """[since, until) on `at`, and without retracted rows unless asked for."""
    conds: list[ColumnElement[bool]] = []
    if since is not None:
        conds.append(at >= since)
    if until is not None:
        conds.append(at < until)
    if not retracted:
        conds.append(retracted_at.is_(None))
    return conds


class EventService(CrudService[EventRow, EventOut]):
    model = EventRow
    label = "event"
    time_order = "occurred_at"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return EventRow.place_id.in_(list(self.p.store_ids)) if self.p.store_ids else false()
        return _people_scope(EventRow.user_id, self)

    def writable(self) -> ColumnElement[bool]:
        return false()  # append-only

    def may_create(self) -> bool:
        return False

    def to_schema(self, row: EventRow) -> EventOut:
        return EventOut.model_validate(row, from_attributes=True)

    def filters(
        self,
        *,
        device_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
        kind: str | None,
        place_id: uuid.UUID | None,
        fence_id: uuid.UUID | None,
        since: datetime | None,
        until: datetime | None,
        include_retracted: bool,
    ) -> list[ColumnElement[bool]]:
        conds = self.equal_filters(
            device_id=device_id, user_id=user_id, kind=kind, place_id=place_id, fence_id=fence_id
        )
        return conds + _window(
            EventRow.occurred_at, EventRow.retracted_at, since, until, include_retracted
        )


# How far apart in time a check-in and a detected stay at the same customer may be and still
# be one visit (parking and walking in, or checking in on the way out): as for sightings.
JOIN_WITHIN = timedelta(seconds=JOIN_WITHIN_S)


class VisitService(CrudService[VisitRow, VisitOut]):
    model = VisitRow
    label = "visit"
    time_order = "arrived_at"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return VisitRow.place_id.in_(list(self.p.store_ids)) if self.p.store_ids else false()
        return _people_scope(VisitRow.agent_id, self)

    def writable(self) -> ColumnElement[bool]:
        # The agent records outcomes of their own visits; their managers may correct them.
        return _people_scope(VisitRow.agent_id, self) if not self.p.is_store_app else false()

    def may_create(self) -> bool:
        return self.p.is_agent

    def to_schema(self, row: VisitRow) -> VisitOut:
        duration = (row.departed_at - row.arrived_at).total_seconds() if row.departed_at else None
        computed = {"duration_s", "sources", "runners_up", "attributed_by", "sightings"}
        fields = {k: getattr(row, k) for k in VisitOut.model_fields if k not in computed}
        sources = [row.source, *(x for x in (row.also_seen_by or []) if x != row.source)]
        checked_in = "manual" in sources
        return VisitOut.model_validate(
            fields
            | {
                "duration_s": duration,
                "sources": sources,
                "attributed_by": row.attributed_by or (row.source if row.customer_id else None),
                "runners_up": row.runners_up or [],
                "sightings": (getattr(row, "sightings", 0) or 0) + (1 if checked_in else 0),
            }
        )

    async def create(self, data: CheckIn) -> VisitOut:
        """A manual check-in: the visit a retry of it (same `client_id`) already made or
        joined; else it joins the stay detected at that customer or place around then; else
        a visit of its own."""
        if not self.may_create():
            raise Forbidden("your role may not create a visit")
        if data.client_id is not None:
            earlier = await self.session.scalar(
                select(VisitRow).where(
                    VisitRow.tenant_id == self.p.tenant_id,
                    VisitRow.agent_id == self.p.id,
                    VisitRow.client_id == data.client_id,
                )
            )
            if earlier is not None:
                if (earlier.customer_id, earlier.place_id) != (data.customer_id, data.place_id):
                    raise Conflict(
                        f"client_id {data.client_id} already checked in elsewhere "
                        f"(visit {earlier.id})",
                        field="client_id",
                    )
                return self.to_schema(earlier)
        values = await self.create_values(data)
        detected = await self._detected_stay(data, values["arrived_at"])
        if detected is None:
            row = VisitRow(tenant_id=self.p.tenant_id, client_id=data.client_id, **values)
            self.session.add(row)
        else:
            row = detected
            row.also_seen_by = sorted({*(row.also_seen_by or []), "manual"})
            row.confidence = max(row.confidence, values["confidence"])
            if row.client_id is None:
                row.client_id = data.client_id
        await self._flush()
        await self._announce(row.id)
        await self.session.refresh(row)
        return self.to_schema(row)

    async def _announce(self, visit_id: uuid.UUID) -> None:
        """Record what changed of the visit as its events (one pair a stay, corrections)."""
        await announce(await raw_connection(self.session), self.p.tenant_id, [visit_id])

    async def _detected_stay(self, data: CheckIn, at: datetime) -> VisitRow | None:
        """The agent's detected visit at the check-in's customer or place that is open, or
        began or ended within JOIN_WITHIN of the check-in."""
        target = (
            VisitRow.customer_id == data.customer_id
            if data.customer_id is not None
            else VisitRow.place_id == data.place_id
        )
        found: VisitRow | None = await self.session.scalar(
            select(VisitRow)
            .where(
                VisitRow.tenant_id == self.p.tenant_id,
                VisitRow.agent_id == self.p.id,
                VisitRow.source != "manual",
                VisitRow.retracted_at.is_(None),
                target,
                VisitRow.arrived_at <= at + JOIN_WITHIN,
                or_(VisitRow.departed_at.is_(None), VisitRow.departed_at >= at - JOIN_WITHIN),
            )
            .order_by(VisitRow.arrived_at.desc())
            .limit(1)
            .with_for_update()
        )
        return found

    async def create_values(self, data: CheckIn) -> dict[str, Any]:
        # Checking in at a customer or place the agent cannot see: not found (404), as a
        # visit to it would be.
        if data.customer_id is not None:
            await self.require_visible(
                CustomerService, data.customer_id, "customer_id", missing=NotFound
            )
        if data.place_id is not None:
            await self.require_visible(PlaceService, data.place_id, "place_id", missing=NotFound)
        if data.device_id is not None:
            owner = await self.session.scalar(
                select(Device.user_id).where(
                    Device.tenant_id == self.p.tenant_id, Device.id == data.device_id
                )
            )
            if owner != self.p.id:
                raise Invalid("unknown device_id", field="device_id")
        # A manual check-in is as good as the fix it was made with.
        confidence = 1.0 if data.accuracy_m <= 50 else max(0.3, 50.0 / data.accuracy_m)
        return {
            "agent_id": self.p.id,
            "device_id": data.device_id,
            "source": "manual",
            "customer_id": data.customer_id,
            "place_id": data.place_id,
            "arrived_at": data.at or datetime.now(UTC),
            "lat": data.lat,
            "lon": data.lon,
            "accuracy_m": data.accuracy_m,
            "confidence": round(confidence, 3),
        }

    async def update_values(self, row: VisitRow, changes: dict[str, Any]) -> dict[str, Any]:
        changes = {k: v for k, v in changes.items() if k != "appointment"}  # not a column
        if "customer_id" not in changes:
            return changes
        new = changes["customer_id"]
        if new is None:
            raise Invalid("a visit is reassigned to a customer, not to none", field="customer_id")
        await self.require_visible(CustomerService, new, "customer_id", missing=NotFound)
        if new == row.customer_id:
            return {k: v for k, v in changes.items() if k != "customer_id"}
        runners = [r for r in (row.runners_up or []) if r.get("customer_id") != str(new)]
        if row.customer_id is not None:
            runners.insert(0, {"customer_id": str(row.customer_id), "share": None})
        return changes | {"attributed_by": "person", "runners_up": runners}

    async def update(self, item_id: uuid.UUID, data: BaseModel) -> VisitOut:
        """Outcome and note; or a reassignment, which the plan's stops follow. What changed of
        what the visit's events said (its customer, its outcome) is told (announce.py)."""
        out = await super().update(item_id, data)
        if "customer_id" in data.model_fields_set:
            await plan_fulfilment().refulfil(self.session, self.p.tenant_id, out.id)
        await self._agree(out.agent_id, out.customer_id, out.id, out.outcome, data)
        await self._announce(out.id)
        return out

    async def _agree(
        self,
        agent_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        visit_id: uuid.UUID,
        outcome: str | None,
        data: BaseModel,
    ) -> None:
        """The appointment an `appointment_set` outcome agrees, if the request names one."""
        at = getattr(data, "appointment", None)
        if at is None:
            return
        if outcome != "appointment_set":
            raise Invalid(
                "an appointment comes with the outcome appointment_set", field="appointment"
            )
        if customer_id is None:
            raise Invalid(
                "a visit to a place agrees no appointment: reassign it to the customer first",
                field="appointment",
            )
        await agreed_at_visit(self.session, self.p, agent_id, customer_id, visit_id, at)

    async def check_out(self, item_id: uuid.UUID, data: CheckOut) -> VisitOut:
        row = await self._load_writable(item_id)
        checked_in = row.source == "manual" or "manual" in (row.also_seen_by or [])
        if not checked_in:
            raise Conflict(
                f"visit {item_id} has no check-in to check out (it was detected)", field="id"
            )
        at = data.at or datetime.now(UTC)
        if row.source == "manual" and row.departed_at is not None:
            raise Conflict(f"visit {item_id} is already checked out", field="id")
        if at < row.arrived_at:
            raise Invalid("check-out before check-in", field="at")
        if row.departed_at is None:
            # A detected stay the check-in joined ends when the agent says so; the engine's
            # own end, when its points show it, takes over.
            row.departed_at = at
        if data.outcome is not None:
            row.outcome = data.outcome
        if data.note is not None:
            row.note = data.note
        await self._flush()
        await self._agree(row.agent_id, row.customer_id, row.id, row.outcome, data)
        await self._announce(row.id)
        await self.session.refresh(row)
        return self.to_schema(row)

    async def delete(self, item_id: uuid.UUID) -> None:
        raise Forbidden("visits are kept; correct one with its outcome and note")

    def filters(
        self,
        *,
        agent_id: uuid.UUID | None,
        customer_id: uuid.UUID | None,
        place_id: uuid.UUID | None,
        source: str | None,
        since: datetime | None,
        until: datetime | None,
        include_retracted: bool,
    ) -> list[ColumnElement[bool]]:
        conds = self.equal_filters(
            agent_id=agent_id, customer_id=customer_id, place_id=place_id, source=source
        )
        return conds + _window(
            VisitRow.arrived_at, VisitRow.retracted_at, since, until, include_retracted
        )
