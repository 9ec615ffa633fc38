"""Geofences and territories: scoped CRUD, upsert by (tag, external_id), GeoJSON import."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from geoalchemy2.shape import from_shape
from pydantic import ValidationError
from sqlalchemy import ColumnElement, false, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import unit_in_subtree, unit_on_path
from backend.auth.security import Principal
from backend.common.crud import CrudService
from backend.common.geo import (
    area_element,
    circle_area,
    geography_point,
    lat_lon,
    point,
    to_geojson,
)
from backend.common.imports import (
    ImportRejected,
    ImportResult,
    RowError,
    read_features,
    validation_errors,
)
from backend.customers.services import CustomerService
from backend.db.base import uuid7
from backend.db.models import Geofence as GeofenceRow
from backend.db.models import Territory as TerritoryRow
from backend.errors import Forbidden, Invalid
from backend.geofences.schemas import (
    Circle,
    Geofence,
    GeofenceBody,
    GeofenceCreate,
    Territory,
    TerritoryCreate,
)
from backend.places.services import PlaceService
from geofence.geometry import GeometryError, parse_area


class TerritoryService(CrudService[TerritoryRow, Territory]):
    model = TerritoryRow
    label = "territory"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return false()
        if self.p.is_agent:
            return or_(
                TerritoryRow.agent_id == self.p.id, unit_on_path(TerritoryRow.org_unit_id, self.p)
            )
        return unit_in_subtree(TerritoryRow.org_unit_id, self.p)

    def writable(self) -> ColumnElement[bool]:
        return unit_in_subtree(TerritoryRow.org_unit_id, self.p)

    async def create_values(self, data: TerritoryCreate) -> dict[str, Any]:
        values = data.model_dump(exclude={"geometry"})
        values["geom"] = area_element(data.geometry, "geometry")
        values["org_unit_id"] = values["org_unit_id"] or self.p.org_unit_id
        await self.require_unit(values["org_unit_id"])
        if data.agent_id is not None:
            await self.require_agent(data.agent_id, "agent_id")
        return values

    async def update_values(self, row: TerritoryRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        if "geometry" in values:
            values["geom"] = area_element(values.pop("geometry"), "geometry")
        if values.get("org_unit_id") is not None:
            await self.require_unit(values["org_unit_id"])
        if values.get("agent_id") is not None:
            await self.require_agent(values["agent_id"], "agent_id")
        return values

    def to_schema(self, row: TerritoryRow) -> Territory:
        geometry = to_geojson(row.geom)
        assert geometry is not None
        return Territory(
            id=row.id,
            name=row.name,
            geometry=geometry,
            org_unit_id=row.org_unit_id,
            agent_id=row.agent_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@runtime_checkable  # Litestar checks the value a dependency provides against its type
class FenceChanged(Protocol):
    """What follows a fence's creation, change or deletion, in the same transaction: the
    tracking domain's synthetic events for the devices it moves in or out
    (`backend.tracking.fence_changes.apply_fence_change`). The app provides it (backend/app.py):
    tracking reads fences, so this domain does not import tracking."""

    async def __call__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        fence_id: uuid.UUID,
        now: datetime,
        *,
        deleted: bool = False,
    ) -> int: ...


class GeofenceService(CrudService[GeofenceRow, Geofence]):
    model = GeofenceRow
    label = "geofence"

    def __init__(
        self, session: AsyncSession, principal: Principal, fence_changed: FenceChanged
    ) -> None:
        super().__init__(session, principal)
        self.fence_changed = fence_changed

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return GeofenceRow.place_id.in_(list(self.p.store_ids)) if self.p.store_ids else false()
        if self.p.is_agent:
            return unit_on_path(GeofenceRow.org_unit_id, self.p)
        return unit_in_subtree(GeofenceRow.org_unit_id, self.p)

    def writable(self) -> ColumnElement[bool]:
        return unit_in_subtree(GeofenceRow.org_unit_id, self.p)

    @staticmethod
    def _shape_values(circle: Circle | None, geometry: dict[str, Any] | None) -> dict[str, Any]:
        if (circle is None) == (geometry is None):
            raise Invalid("give exactly one of circle or geometry", field="geometry")
        if circle is not None:
            return {
                "shape": "circle",
                "center": point(circle.lat, circle.lon),
                "radius_m": circle.radius_m,
                "geom": circle_area(geography_point(circle.lat, circle.lon), circle.radius_m),
            }
        try:
            area = parse_area(geometry, "geometry")
        except GeometryError as exc:
            raise Invalid(exc.message, field=exc.field) from exc
        return {
            "shape": "polygon",
            "center": None,
            "radius_m": None,
            "geom": from_shape(area, 4326),
        }

    @staticmethod
    def _links() -> tuple[tuple[str, type[CrudService[Any, Any]]], ...]:
        return (
            ("customer_id", CustomerService),
            ("place_id", PlaceService),
            ("territory_id", TerritoryService),
        )

    async def _check_links(self, values: dict[str, Any]) -> None:
        for field, service in self._links():
            if values.get(field) is not None:
                await self.require_visible(service, values[field], field)

    def _content(self, data: GeofenceBody) -> dict[str, Any]:
        values = data.model_dump(exclude={"circle", "geometry", "metadata"})
        values["metadata_"] = data.metadata
        values.update(self._shape_values(data.circle, data.geometry))
        values["org_unit_id"] = values["org_unit_id"] or self.p.org_unit_id
        return values

    async def create_values(self, data: GeofenceCreate) -> dict[str, Any]:
        values = self._content(data)
        await self.require_unit(values["org_unit_id"])
        await self._check_links(values)
        return values

    async def update_values(self, row: GeofenceRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        circle, geometry = values.pop("circle", None), values.pop("geometry", None)
        if circle is not None or geometry is not None:
            values.update(
                self._shape_values(Circle.model_validate(circle) if circle else None, geometry)
            )
        if "metadata" in values:
            values["metadata_"] = values.pop("metadata") or {}
        if values.get("org_unit_id") is not None:
            await self.require_unit(values["org_unit_id"])
        await self._check_links(values)
        return values

    def to_schema(self, row: GeofenceRow) -> Geofence:
        circle = None
        if row.shape == "circle" and row.center is not None and row.radius_m is not None:
            lat, lon = lat_lon(row.center)
            circle = Circle(lat=lat, lon=lon, radius_m=row.radius_m)
        geometry = to_geojson(row.geom)
        assert geometry is not None
        return Geofence(
            id=row.id,
            org_unit_id=row.org_unit_id,
            name=row.name,
            tag=row.tag,
            external_id=row.external_id,
            shape=row.shape,
            circle=circle,
            geometry=geometry,
            dwell_s=row.dwell_s,
            exit_buffer_m=row.exit_buffer_m,
            customer_id=row.customer_id,
            place_id=row.place_id,
            territory_id=row.territory_id,
            metadata=row.metadata_,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def _changed(self, fence_id: uuid.UUID, *, deleted: bool = False) -> None:
        """Devices the change moves in or out of the fence get synthetic events now."""
        await self.fence_changed(
            self.session, self.p.tenant_id, fence_id, datetime.now(UTC), deleted=deleted
        )

    async def create(self, data: Any) -> Geofence:
        fence = await super().create(data)
        await self._changed(fence.id)
        return fence

    async def update(self, item_id: uuid.UUID, data: Any) -> Geofence:
        fence = await super().update(item_id, data)
        await self._changed(fence.id)
        return fence

    async def delete(self, item_id: uuid.UUID) -> None:
        await self._load_writable(item_id)
        await self._changed(item_id, deleted=True)
        await super().delete(item_id)

    async def upsert(self, tag: str, external_id: str, data: GeofenceBody) -> tuple[Geofence, bool]:
        """Create or replace the geofence known by (tag, external_id); True when created."""
        existing = (
            await self.session.scalars(
                self._base().where(GeofenceRow.tag == tag, GeofenceRow.external_id == external_id)
            )
        ).first()
        if existing is None:
            created = GeofenceCreate.model_validate(
                data.model_dump() | {"tag": tag, "external_id": external_id}
            )
            return await self.create(created), True
        row = await self._load_writable(existing.id)
        values = self._content(data)
        await self.require_unit(values["org_unit_id"])
        await self._check_links(values)
        for key, value in values.items():
            setattr(row, key, value)
        await self._flush()
        await self.session.refresh(row)
        await self._changed(row.id)
        return self.to_schema(row), False

    async def import_geojson(self, body: bytes) -> ImportResult:
        """Upsert every feature by (tag, external_id); all features or none."""
        if not self.may_create():
            raise Forbidden("your role may not import geofences")
        features, errors = read_features(body)
        parsed: list[tuple[int, GeofenceCreate]] = []
        for n, geometry, props in features:
            record = dict(props)
            try:
                if isinstance(geometry, dict) and geometry.get("type") == "Point":
                    coords = geometry.get("coordinates") or [None, None]
                    record["circle"] = {
                        "lon": coords[0],
                        "lat": coords[1],
                        "radius_m": record.pop("radius_m", None),
                    }
                else:
                    parse_area(geometry, "geometry")
                    record["geometry"] = geometry
                parsed.append((n, GeofenceCreate.model_validate(record)))
            except GeometryError as exc:
                errors.append(RowError(row=n, field=exc.field, message=exc.message))
            except ValidationError as exc:
                errors.extend(validation_errors(n, exc))
            except (TypeError, IndexError):
                errors.append(RowError(row=n, field="geometry", message="unreadable coordinates"))
        errors += await self.unit_row_errors([(n, d.org_unit_id) for n, d in parsed])
        for field, service in self._links():
            refs = [(n, getattr(d, field)) for n, d in parsed]
            errors += await self.reference_row_errors(refs, field, service)
        existing, more = await self._existing_by_key(parsed)
        errors += more
        if errors:
            raise ImportRejected(sorted(errors, key=lambda e: e.row))
        if not parsed:
            raise Invalid("the collection has no features", field="features")
        new_rows: list[dict[str, Any]] = []
        circle_ids: list[uuid.UUID] = []
        updated = 0
        for _, data in parsed:
            values = data.model_dump(exclude={"circle", "geometry", "metadata"})
            values["metadata_"] = data.metadata
            values["org_unit_id"] = values["org_unit_id"] or self.p.org_unit_id
            if data.circle is not None:
                c = data.circle
                values |= {"shape": "circle", "center": point(c.lat, c.lon), "radius_m": c.radius_m}
                # A placeholder the one UPDATE below replaces with the geodesic buffer.
                values["geom"] = point(c.lat, c.lon)
            else:
                area = parse_area(data.geometry, "geometry")
                values |= {"shape": "polygon", "center": None, "radius_m": None}
                values["geom"] = from_shape(area, 4326)
            key = (data.tag, data.external_id)
            if data.external_id is not None and key in existing:
                row_id = existing[key]
                await self.session.execute(
                    update(GeofenceRow)
                    .where(GeofenceRow.tenant_id == self.p.tenant_id, GeofenceRow.id == row_id)
                    .values(**values)
                )
                updated += 1
            else:
                row_id = uuid7()
                new_rows.append(values | {"tenant_id": self.p.tenant_id, "id": row_id})
            if data.circle is not None:
                circle_ids.append(row_id)
        if new_rows:
            await self.session.execute(insert(GeofenceRow), new_rows)
        if circle_ids:
            await self.session.execute(
                update(GeofenceRow)
                .where(GeofenceRow.tenant_id == self.p.tenant_id, GeofenceRow.id.in_(circle_ids))
                .values(geom=circle_area(GeofenceRow.center, GeofenceRow.radius_m))
            )
        return ImportResult(imported=len(new_rows), updated=updated)

    async def _existing_by_key(
        self, parsed: list[tuple[int, GeofenceCreate]]
    ) -> tuple[dict[tuple[str, str], uuid.UUID], list[RowError]]:
        """Existing fences the file would replace, and rows that may not replace theirs."""
        keys = {(d.tag, d.external_id) for _, d in parsed if d.external_id}
        if not keys:
            return {}, []
        ext_ids = [k[1] for k in keys]
        rows = (
            await self.session.execute(
                select(
                    GeofenceRow.tag,
                    GeofenceRow.external_id,
                    GeofenceRow.id,
                    self.writable().label("writable"),
                ).where(
                    GeofenceRow.tenant_id == self.p.tenant_id, GeofenceRow.external_id.in_(ext_ids)
                )
            )
        ).all()
        found = {(r.tag, r.external_id): (r.id, bool(r.writable)) for r in rows}
        errors: list[RowError] = []
        seen: dict[tuple[str, str], int] = {}
        for n, d in parsed:
            if d.external_id is None:
                continue
            key = (d.tag, d.external_id)
            if key in seen:
                errors.append(
                    RowError(row=n, field="external_id", message=f"repeats row {seen[key]}")
                )
            seen[key] = n
            if key in found and not found[key][1]:
                errors.append(
                    RowError(
                        row=n,
                        field="external_id",
                        message="an existing geofence you may not change",
                    )
                )
        return {k: v[0] for k, v in found.items()}, errors


def geofence_filters(
    service: GeofenceService,
    *,
    tag: str | None,
    external_id: str | None,
    place_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
    shape: str | None,
    contains: tuple[float, float] | None,
) -> list[ColumnElement[bool]]:
    conds = service.equal_filters(
        tag=tag,
        external_id=external_id,
        place_id=place_id,
        customer_id=customer_id,
        territory_id=territory_id,
        shape=shape,
    )
    if contains is not None:
        lat, lon = contains
        at = func.ST_GeomFromText(f"POINT({lon!r} {lat!r})", 4326)
        # The box first: under row-level security only it can use the index (0013).
        conds.append(GeofenceRow.geom.op("&&")(at))
        conds.append(func.ST_Intersects(GeofenceRow.geom, at))
    return conds
