"""The org tree, users, devices and store apps: who may manage whom."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from anyio import to_thread
from sqlalchemy import ColumnElement, and_, false, func, null, select, true

from backend.auth.scope import subtree_unit_ids, unit_in_subtree
from backend.auth.security import hash_password, new_api_key
from backend.common.crud import CrudService
from backend.db.base import uuid7
from backend.db.models import Device as DeviceRow
from backend.db.models import OrgUnit as OrgUnitRow
from backend.db.models import Place as PlaceRow
from backend.db.models import StoreApp as StoreAppRow
from backend.db.models import Tenant as TenantRow
from backend.db.models import User as UserRow
from backend.errors import Conflict, Forbidden, Invalid
from backend.org.enrollment import issue_code, revoke_device_tokens
from backend.org.schemas import (
    Device,
    DeviceCreate,
    DeviceEnrollmentOut,
    OrgUnit,
    OrgUnitCreate,
    StoreApp,
    StoreAppCreate,
    User,
    UserCreate,
)
from backend.places.services import PlaceService

KIND_DEPTH = {"hq": 0, "region": 1, "branch": 2, "team": 3}


class OrgUnitService(CrudService[OrgUnitRow, OrgUnit]):
    model = OrgUnitRow
    label = "org unit"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_admin:
            return true()
        if self.p.is_store_app:
            return false()
        on_path = OrgUnitRow.id.in_(list(self.p.org_path))
        if self.p.is_manager:
            return on_path | OrgUnitRow.path.contains([self.p.org_unit_id])
        return on_path

    def writable(self) -> ColumnElement[bool]:
        if self.p.is_admin:
            return true()
        if self.p.is_manager:
            # Strictly below the manager's own unit: nobody edits the unit they belong to.
            return and_(
                OrgUnitRow.path.contains([self.p.org_unit_id]), OrgUnitRow.id != self.p.org_unit_id
            )
        return false()

    async def create_values(self, data: OrgUnitCreate) -> dict[str, Any]:
        new_id = uuid7()
        if data.parent_id is None:
            if not self.p.is_admin or data.kind != "hq":
                raise Invalid(
                    "only an admin creates a root unit, and it is an HQ", field="parent_id"
                )
            return {
                "id": new_id,
                "name": data.name,
                "kind": data.kind,
                "parent_id": None,
                "path": [new_id],
                "timezone": data.timezone,
            }
        await self.require_unit(data.parent_id, "parent_id")
        parent = await self.session.get_one(OrgUnitRow, (self.p.tenant_id, data.parent_id))
        if KIND_DEPTH[data.kind] <= KIND_DEPTH[parent.kind]:
            raise Invalid(f"a {data.kind} cannot sit under a {parent.kind}", field="kind")
        return {
            "id": new_id,
            "name": data.name,
            "kind": data.kind,
            "parent_id": data.parent_id,
            "path": [*parent.path, new_id],
            "timezone": data.timezone,
        }

    async def update_values(self, row: OrgUnitRow, changes: dict[str, Any]) -> dict[str, Any]:
        return changes

    def to_schema(self, row: OrgUnitRow) -> OrgUnit:
        return OrgUnit.model_validate(row)


class UserService(CrudService[UserRow, User]):
    model = UserRow
    label = "user"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_agent:
            return UserRow.id == self.p.id
        return unit_in_subtree(UserRow.org_unit_id, self.p)

    def colleagues(self) -> ColumnElement[bool]:
        """People whose names the caller may see beside their own work (who covers an area):
        those `visible`, and for an agent the people of their own unit's subtree."""
        if self.p.is_agent:
            return UserRow.org_unit_id.in_(subtree_unit_ids(self.p))
        return self.visible()

    def writable(self) -> ColumnElement[bool]:
        if self.p.is_manager:
            return unit_in_subtree(UserRow.org_unit_id, self.p) & (UserRow.role != "admin")
        return unit_in_subtree(UserRow.org_unit_id, self.p)

    def _check_role(self, role: str | None) -> None:
        if role == "admin" and not self.p.is_admin:
            raise Forbidden("only an admin grants the admin role")

    async def create_values(self, data: UserCreate) -> dict[str, Any]:
        self._check_role(data.role)
        await self.require_unit(data.org_unit_id)
        return {
            "email": data.email.lower(),
            "name": data.name,
            "role": data.role,
            "org_unit_id": data.org_unit_id,
            "password_hash": await to_thread.run_sync(hash_password, data.password),
        }

    async def _keep_an_admin(self, row: UserRow, field: str) -> None:
        """A tenant always keeps an active admin: the last one is not demoted, deactivated or
        deleted (409), which would leave nobody able to manage the tenant."""
        if row.role != "admin" or not row.active:
            return
        others = await self.session.scalar(
            select(func.count())
            .select_from(UserRow)
            .where(
                UserRow.tenant_id == self.p.tenant_id,
                UserRow.role == "admin",
                UserRow.active,
                UserRow.id != row.id,
            )
        )
        if not others:
            raise Conflict("this is the tenant's last active admin", field=field)

    async def update_values(self, row: UserRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        self._check_role(values.get("role"))
        if values.get("role") not in (None, "admin"):
            await self._keep_an_admin(row, "role")
        if values.get("active") is False:
            await self._keep_an_admin(row, "active")
        if values.get("org_unit_id") is not None:
            await self.require_unit(values["org_unit_id"])
        if values.get("password") is not None:
            values["password_hash"] = await to_thread.run_sync(
                hash_password, values.pop("password")
            )
        values.pop("password", None)
        return values

    async def delete(self, item_id: uuid.UUID) -> None:
        await self._keep_an_admin(await self._load_writable(item_id), "item_id")
        await super().delete(item_id)

    def to_schema(self, row: UserRow) -> User:
        return User.model_validate(row)


class DeviceService(CrudService[DeviceRow, Device]):
    model = DeviceRow
    label = "device"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_agent:
            return DeviceRow.user_id == self.p.id
        if self.p.is_admin:
            return true()
        if self.p.is_manager:
            users = select(UserRow.id).where(
                UserRow.tenant_id == self.p.tenant_id,
                UserRow.org_unit_id.in_(subtree_unit_ids(self.p)),
            )
            return DeviceRow.user_id.in_(users)
        return false()

    def writable(self) -> ColumnElement[bool]:
        return self.visible()

    def may_create(self) -> bool:
        return not self.p.is_store_app

    async def create_values(self, data: DeviceCreate) -> dict[str, Any]:
        """Managers and admins register a device for an agent, ready to send; an agent may
        only request one for themselves, which sends nothing until approved."""
        user_id = data.user_id or self.p.id
        if self.p.is_agent and user_id != self.p.id:
            raise Forbidden("an agent may request a device for themselves only", field="user_id")
        await self.require_agent(user_id, "user_id")
        return {
            "user_id": user_id,
            "name": data.name,
            "platform": data.platform,
            "identifier": data.identifier,
            # null(), not None: the ORM leaves a None out, and the column's default approves.
            "approved_at": null() if self.p.is_agent else datetime.now(UTC),
        }

    async def update_values(self, row: DeviceRow, changes: dict[str, Any]) -> dict[str, Any]:
        """Who changes a device's state: anyone who sees it may revoke it (an agent who lost
        their phone); only managers and admins re-enable or approve one."""
        # null means "no change", never "not revoked" (it re-enabled a device before).
        values = {
            k: v for k, v in changes.items() if v is not None or k not in ("revoked", "approved")
        }
        if values.get("revoked") is False or values.get("approved"):
            field = "revoked" if values.get("revoked") is False else "approved"
            if self.p.is_agent:
                raise Forbidden(
                    "only a manager or an admin may re-enable or approve a device", field=field
                )
        if "revoked" in values:
            revoked = values.pop("revoked")
            values["revoked_at"] = (row.revoked_at or datetime.now(UTC)) if revoked else None
            if revoked:
                await revoke_device_tokens(self.session, self.p.tenant_id, row.id)
        if values.pop("approved", None):
            values["approved_at"] = row.approved_at or datetime.now(UTC)
        return values

    def to_schema(self, row: DeviceRow) -> Device:
        return Device.model_validate(row)

    async def enrollment(self, item_id: uuid.UUID) -> DeviceEnrollmentOut:
        """A one-time code the agent's app exchanges for the device's own credentials
        (backend/org/enrollment.py); issued by a manager of the agent or an admin."""
        if not (self.p.is_admin or self.p.is_manager):
            raise Forbidden("enrollment codes are issued by managers and admins")
        row = await self._load_writable(item_id)
        if row.revoked_at is not None:
            raise Conflict(
                f"device {item_id} is revoked: re-enable it before enrolling it", field="item_id"
            )
        slug = await self.session.scalar(
            select(TenantRow.slug).where(TenantRow.id == self.p.tenant_id)
        )
        issued = await issue_code(self.session, self.p, row.id)
        return DeviceEnrollmentOut(
            device_id=row.id,
            code=issued.code,
            expires_at=issued.expires_at,
            qr="fieldsense://enroll?" + urlencode({"tenant": slug, "code": issued.code}),
        )


class StoreAppService(CrudService[StoreAppRow, StoreApp]):
    model = StoreAppRow
    label = "store app"

    def visible(self) -> ColumnElement[bool]:
        if self.p.is_store_app:
            return StoreAppRow.id == self.p.id
        return unit_in_subtree(StoreAppRow.org_unit_id, self.p)

    def writable(self) -> ColumnElement[bool]:
        return unit_in_subtree(StoreAppRow.org_unit_id, self.p)

    async def _check_stores(self, store_ids: list[uuid.UUID]) -> None:
        writable = PlaceService(self.session, self.p).writable()
        found = set(
            (
                await self.session.scalars(
                    select(PlaceRow.id).where(
                        PlaceRow.tenant_id == self.p.tenant_id,
                        PlaceRow.id.in_(store_ids),
                        PlaceRow.kind == "store",
                        writable,
                    )
                )
            ).all()
        )
        for i, sid in enumerate(store_ids):
            if sid not in found:
                raise Invalid(
                    f"unknown store {sid} (or not a store you manage)", field=f"store_ids.{i}"
                )

    async def create_values(self, data: StoreAppCreate) -> dict[str, Any]:
        org_unit_id = data.org_unit_id or self.p.org_unit_id
        await self.require_unit(org_unit_id)
        store_ids = list(dict.fromkeys(data.store_ids))
        await self._check_stores(store_ids)
        key, prefix, digest = new_api_key()
        self._new_key = key
        return {
            "name": data.name,
            "org_unit_id": org_unit_id,
            "store_ids": store_ids,
            "key_prefix": prefix,
            "key_hash": digest,
        }

    async def create(self, data: Any) -> StoreApp:
        created = await super().create(data)
        return created.model_copy(update={"api_key": self._new_key})

    async def update_values(self, row: StoreAppRow, changes: dict[str, Any]) -> dict[str, Any]:
        values = dict(changes)
        if values.get("store_ids") is not None:
            values["store_ids"] = list(dict.fromkeys(values["store_ids"]))
            await self._check_stores(values["store_ids"])
        if "revoked" in values:
            revoked = values.pop("revoked")
            if revoked is not None:  # null: no change, not "re-enable"
                values["revoked_at"] = (row.revoked_at or datetime.now(UTC)) if revoked else None
        return values

    async def rotate_key(self, item_id: uuid.UUID) -> StoreApp:
        """A new key replaces the old one at once; the old key stops working."""
        row = await self._load_writable(item_id)
        key, prefix, digest = new_api_key()
        row.key_prefix, row.key_hash = prefix, digest
        await self._flush()
        await self.session.refresh(row)
        return self.to_schema(row).model_copy(update={"api_key": key})

    def to_schema(self, row: StoreAppRow) -> StoreApp:
        return StoreApp(
            id=row.id,
            name=row.name,
            org_unit_id=row.org_unit_id,
            store_ids=list(row.store_ids),
            key_prefix=row.key_prefix,
            revoked_at=row.revoked_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
