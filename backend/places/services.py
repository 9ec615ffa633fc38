"""Places, beacons and Wi-Fi access points: scoped CRUD and the GeoJSON import."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, false, insert, select

from backend.auth.scope import unit_in_subtree, unit_on_path
from backend.common.crud import CrudService
from backend.common.geo import area_element, lat_lon, point, to_geojson
from backend.common.imports import (
    ImportRejected,
    ImportResult,
    RowError,
    read_features,
    validation_errors,
)
from backend.db.base import uuid7
from backend.db.models import Beacon as BeaconRow
from backend.db.models import Place as PlaceRow
from backend.db.models import WifiAccessPoint as WifiRow
from backend.errors import Forbidden, Invalid
from backend.places.schemas import (
    Beacon,
    BeaconCreate,
    Place,
    PlaceCreate,
    WifiAccessPoint,
    WifiAccessPointCreate,
)
from geofence.geometry import GeometryError, parse_area


class PlaceService(CrudService[PlaceRow, Place]):
    model = PlaceRow
    label = "place"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return PlaceRow.id.in_(list(self.p.store_ids)) if self.p.store_ids else false()
        if self.p.is_agent:
            return unit_on_path(PlaceRow.org_unit_id, self.p)
        return unit_in_subtree(PlaceRow.org_unit_id, self.p)

    def writable(self) -> ColumnElement[bool]:
        return unit_in_subtree(PlaceRow.org_unit_id, self.p)

    async def create_values(self, data: PlaceCreate) -> dict[str, Any]:
        values = data.model_dump(exclude={"lat", "lon", "footprint"})
        values["location"] = point(data.lat, data.lon)
        values["footprint"] = area_element(data.footprint, "footprint") if data.footprint else None
        values["org_unit_id"] = values["org_unit_id"] or self.p.org_unit_id
        await self.require_unit(values["org_unit_id"])
        return values

    async def update_values(self, row: PlaceRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        lat, lon = values.pop("lat", None), values.pop("lon", None)
        if (lat is None) != (lon is None):
            raise Invalid("lat and lon change together", field="lon" if lon is None else "lat")
        if lat is not None and lon is not None:
            values["location"] = point(lat, lon)
        if "footprint" in values:
            fp = values["footprint"]
            values["footprint"] = area_element(fp, "footprint") if fp is not None else None
        if values.get("org_unit_id") is not None:
            await self.require_unit(values["org_unit_id"])
        return values

    def to_schema(self, row: PlaceRow) -> Place:
        lat, lon = lat_lon(row.location)
        return Place(
            id=row.id,
            org_unit_id=row.org_unit_id,
            kind=row.kind,
            name=row.name,
            address=row.address,
            lat=lat,
            lon=lon,
            footprint=to_geojson(row.footprint),
            household_count=row.household_count,
            attributes=row.attributes,
            tags=row.tags,
            external_id=row.external_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def filters(
        self,
        *,
        kind: str | None = None,
        org_unit_id: uuid.UUID | None = None,
        tag: str | None = None,
        external_id: str | None = None,
        q: str | None = None,
        near: tuple[float, float, float] | None = None,
    ) -> list[ColumnElement[bool]]:
        conds = self.equal_filters(kind=kind, org_unit_id=org_unit_id, external_id=external_id)
        if tag:
            conds.append(PlaceRow.tags.any_() == tag)
        return conds + self.search_filters(q, near)

    async def import_geojson(self, body: bytes) -> ImportResult:
        """Point features become places at that point; Polygon features, footprints."""
        if not self.may_create():
            raise Forbidden("your role may not import places")
        features, errors = read_features(body)
        parsed: list[tuple[int, PlaceCreate]] = []
        for n, geometry, props in features:
            record = dict(props)
            try:
                if isinstance(geometry, dict) and geometry.get("type") == "Point":
                    coords = geometry.get("coordinates") or [None, None]
                    record["lon"], record["lat"] = coords[0], coords[1]
                else:
                    shape = parse_area(geometry, "geometry")
                    inner = shape.representative_point()
                    record["lon"], record["lat"] = inner.x, inner.y
                    record["footprint"] = geometry
                parsed.append((n, PlaceCreate.model_validate(record)))
            except GeometryError as exc:
                errors.append(RowError(row=n, field=exc.field, message=exc.message))
            except ValidationError as exc:
                errors.extend(validation_errors(n, exc))
            except (TypeError, IndexError):
                errors.append(RowError(row=n, field="geometry", message="unreadable coordinates"))
        errors.extend(await self.unit_row_errors([(n, d.org_unit_id) for n, d in parsed]))
        errors.extend(await self.external_id_row_errors([(n, d.external_id) for n, d in parsed]))
        if errors:
            raise ImportRejected(sorted(errors, key=lambda e: e.row))
        if not parsed:
            raise Invalid("the collection has no features", field="features")
        rows = []
        for _, data in parsed:
            values = data.model_dump(exclude={"lat", "lon", "footprint"})
            values["location"] = point(data.lat, data.lon)
            values["footprint"] = (
                area_element(data.footprint, "footprint") if data.footprint else None
            )
            values["org_unit_id"] = values["org_unit_id"] or self.p.org_unit_id
            rows.append(values | {"tenant_id": self.p.tenant_id, "id": uuid7()})
        await self.session.execute(insert(PlaceRow), rows)
        return ImportResult(imported=len(rows))


class _InPlaceService(CrudService[Any, Any]):
    """Records that hang off a place: they are visible and writable exactly as their place."""

    def _places(self, writable: bool) -> ColumnElement[bool]:
        places = PlaceService(self.session, self.p)
        cond = places.writable() if writable else places.visible()
        ids = select(PlaceRow.id).where(PlaceRow.tenant_id == self.p.tenant_id, cond)
        return self.model.place_id.in_(ids)

    def visible(self) -> ColumnElement[bool]:
        return self._places(writable=False)

    def writable(self) -> ColumnElement[bool]:
        return self._places(writable=True)

    async def _require_place(self, place_id: uuid.UUID) -> None:
        writable = PlaceService(self.session, self.p).writable()
        ok = await self.session.scalar(
            select(PlaceRow.id).where(
                PlaceRow.tenant_id == self.p.tenant_id, PlaceRow.id == place_id, writable
            )
        )
        if ok is None:
            raise Invalid("unknown place_id (or not yours to change)", field="place_id")


class BeaconService(_InPlaceService):
    model = BeaconRow
    label = "beacon"

    def _check_identity(self, values: dict[str, Any]) -> None:
        needed = (
            ("ibeacon_uuid", "major", "minor")
            if values.get("protocol") == "ibeacon"
            else ("eddystone_namespace", "eddystone_instance")
        )
        for name in needed:
            if values.get(name) is None:
                raise Invalid(
                    f"{name} is required for {values.get('protocol')} beacons", field=name
                )

    async def create_values(self, data: BeaconCreate) -> dict[str, Any]:
        values = data.model_dump()
        self._check_identity(values)
        await self._require_place(data.place_id)
        return values

    async def update_values(self, row: Any, changes: dict[str, Any]) -> dict[str, Any]:
        merged = {c: getattr(row, c) for c in BeaconCreate.model_fields} | changes
        self._check_identity(merged)
        if "place_id" in changes:
            await self._require_place(changes["place_id"])
        return changes

    def to_schema(self, row: Any) -> Beacon:
        return Beacon.model_validate(row, from_attributes=True)


class WifiAccessPointService(_InPlaceService):
    model = WifiRow
    label = "Wi-Fi access point"

    async def create_values(self, data: WifiAccessPointCreate) -> dict[str, Any]:
        await self._require_place(data.place_id)
        return data.model_dump()

    async def update_values(self, row: Any, changes: dict[str, Any]) -> dict[str, Any]:
        if "place_id" in changes:
            await self._require_place(changes["place_id"])
        return changes

    def to_schema(self, row: Any) -> WifiAccessPoint:
        return WifiAccessPoint.model_validate(row, from_attributes=True)
