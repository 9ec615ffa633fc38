"""Customers and prospects: scoped CRUD, filters and the all-or-nothing CSV import."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, insert, select

from backend.auth.scope import unit_in_subtree
from backend.common.crud import CrudService
from backend.common.geo import lat_lon, point
from backend.common.imports import (
    ImportRejected,
    ImportResult,
    RowError,
    read_csv,
    validation_errors,
)
from backend.customers.schemas import Customer, CustomerCreate
from backend.db.base import uuid7
from backend.db.models import Customer as CustomerRow
from backend.db.models import User
from backend.errors import Forbidden, Invalid

LIST_FIELDS = ("lifestyle_tags",)


class CustomerService(CrudService[CustomerRow, Customer]):
    model = CustomerRow
    label = "customer"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_agent:
            return CustomerRow.assigned_agent_id == self.p.id
        return unit_in_subtree(CustomerRow.org_unit_id, self.p)

    def writable(self) -> ColumnElement[bool]:
        return self.visible()

    def may_create(self) -> bool:
        return not self.p.is_store_app

    async def create_values(self, data: CustomerCreate) -> dict[str, Any]:
        values = data.model_dump(exclude={"lat", "lon"})
        values["location"] = point(data.lat, data.lon)
        values["preferred_hours"] = [w.model_dump() for w in data.preferred_hours]
        await self._check_owner(values)
        return values

    async def update_values(self, row: CustomerRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        lat, lon = values.pop("lat", None), values.pop("lon", None)
        if (lat is None) != (lon is None):
            raise Invalid("lat and lon change together", field="lon" if lon is None else "lat")
        if lat is not None and lon is not None:
            values["location"] = point(lat, lon)
        if "org_unit_id" in values or "assigned_agent_id" in values:
            merged = {
                "org_unit_id": values.get("org_unit_id", row.org_unit_id),
                "assigned_agent_id": values.get("assigned_agent_id", row.assigned_agent_id),
            }
            await self._check_owner(merged)
            values.update(merged)
        return values

    async def _check_owner(self, values: dict[str, Any]) -> None:
        """Agents own what they create; managers place records inside their subtree."""
        if self.p.is_agent:
            if values.get("org_unit_id") not in (None, self.p.org_unit_id):
                raise Invalid("agents create records in their own unit", field="org_unit_id")
            values["org_unit_id"] = self.p.org_unit_id
            if values.get("assigned_agent_id") is None:
                values["assigned_agent_id"] = self.p.id
        else:
            if values.get("org_unit_id") is None:
                values["org_unit_id"] = self.p.org_unit_id
            await self.require_unit(values["org_unit_id"])
        if values.get("assigned_agent_id") is not None:
            await self.require_agent(values["assigned_agent_id"], "assigned_agent_id")

    def to_schema(self, row: CustomerRow) -> Customer:
        lat, lon = lat_lon(row.location)
        return Customer.model_validate(
            {c: getattr(row, c) for c in Customer.model_fields if hasattr(row, c)}
            | {"lat": lat, "lon": lon}
        )

    def filters(
        self,
        *,
        status: str | None = None,
        assigned_agent_id: uuid.UUID | None = None,
        org_unit_id: uuid.UUID | None = None,
        income_band: str | None = None,
        household_type: str | None = None,
        life_stage: str | None = None,
        lifestyle_tag: str | None = None,
        do_not_visit: bool | None = None,
        external_id: str | None = None,
        q: str | None = None,
        near: tuple[float, float, float] | None = None,
    ) -> list[ColumnElement[bool]]:
        conds = self.equal_filters(
            status=status,
            assigned_agent_id=assigned_agent_id,
            org_unit_id=org_unit_id,
            income_band=income_band,
            household_type=household_type,
            life_stage=life_stage,
            do_not_visit=do_not_visit,
            external_id=external_id,
        )
        if lifestyle_tag:
            conds.append(CustomerRow.lifestyle_tags.any_() == lifestyle_tag)
        return conds + self.search_filters(q, near)

    async def import_csv(self, body: bytes) -> ImportResult:
        """Validate every row, then insert all in this transaction or nothing at all."""
        if not self.may_create():
            raise Forbidden("your role may not import customers")
        rows, errors = read_csv(body)
        parsed: list[tuple[int, CustomerCreate]] = []
        for n, record in rows:
            if "lifestyle_tags" in record:
                record_any: dict[str, Any] = dict(record)
                record_any["lifestyle_tags"] = [
                    t.strip() for t in record["lifestyle_tags"].split(";") if t.strip()
                ]
            else:
                record_any = dict(record)
            try:
                parsed.append((n, CustomerCreate.model_validate(record_any)))
            except ValidationError as exc:
                errors.extend(validation_errors(n, exc))
        errors.extend(await self._check_import_refs(parsed))
        if errors:
            raise ImportRejected(sorted(errors, key=lambda e: e.row))
        if not parsed:
            raise Invalid("the file has no data rows", field="body")
        values = []
        for _, data in parsed:
            v = data.model_dump(exclude={"lat", "lon"})
            v["location"] = point(data.lat, data.lon)
            v["preferred_hours"] = [w.model_dump() for w in data.preferred_hours]
            v["org_unit_id"] = v["org_unit_id"] or self.p.org_unit_id
            if self.p.is_agent:
                v["assigned_agent_id"] = self.p.id
            v["tenant_id"] = self.p.tenant_id
            v["id"] = uuid7()
            values.append(v)
        await self.session.execute(insert(CustomerRow), values)
        return ImportResult(imported=len(values))

    async def _check_import_refs(self, parsed: list[tuple[int, CustomerCreate]]) -> list[RowError]:
        errors = await self.unit_row_errors([(n, d.org_unit_id) for n, d in parsed])
        errors += await self.external_id_row_errors([(n, d.external_id) for n, d in parsed])
        agents = {d.assigned_agent_id for _, d in parsed if d.assigned_agent_id}
        if agents and not self.p.is_agent:
            stmt = select(User.id).where(
                User.tenant_id == self.p.tenant_id,
                User.id.in_(agents),
                User.role == "agent",
                unit_in_subtree(User.org_unit_id, self.p),
            )
            ok = set((await self.session.scalars(stmt)).all())
            msg = "unknown agent (or outside your org subtree)"
            errors += [
                RowError(row=n, field="assigned_agent_id", message=msg)
                for n, d in parsed
                if d.assigned_agent_id and d.assigned_agent_id not in ok
            ]
        return errors
