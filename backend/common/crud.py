"""A scoped CRUD service: one place for tenant scoping, access checks and pagination.

Each resource subclasses `CrudService` and says who sees what (`visible`), who may
change what (`writable`, `may_create`), how a validated request becomes column
values, and how a row becomes its API schema. Services never commit: the request's
transaction is committed by the SQLAlchemy plugin on a 2xx response.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, literal, select, true, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import subtree_unit_ids, unit_in_subtree
from backend.auth.security import Principal
from backend.common.geo import point
from backend.common.imports import RowError
from backend.common.pagination import (
    Page,
    check_limit,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)
from backend.db.models import OrgUnit, User
from backend.errors import (
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    domain_error_from_integrity,
)

M = TypeVar("M", bound=Any)
R = TypeVar("R", bound=BaseModel)


class CrudService(Generic[M, R]):
    model: ClassVar[type[Any]]
    label: ClassVar[str]
    # For records whose ids are not time-ordered: page in (this column, id) order instead.
    time_order: ClassVar[str | None] = None

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.p = principal

    # --- what each resource defines -------------------------------------------------
    def visible(self) -> ColumnElement[bool]:
        """Rows of the caller's tenant the caller may read."""
        raise NotImplementedError

    def writable(self) -> ColumnElement[bool]:
        """Rows the caller may update or delete (a subset of `visible`)."""
        raise NotImplementedError

    def may_create(self) -> bool:
        return self.p.is_admin or self.p.is_manager

    async def create_values(self, data: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def update_values(self, row: M, changes: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def to_schema(self, row: M) -> R:
        raise NotImplementedError

    # --- the shared mechanics ------------------------------------------------------
    def _base(self) -> Select[Any]:
        return select(self.model).where(self.model.tenant_id == self.p.tenant_id, self.visible())

    async def page(
        self, filters: Sequence[ColumnElement[bool]], cursor: str | None, limit: int
    ) -> Page[R]:
        if self.time_order is not None:
            column = getattr(self.model, self.time_order)
            return await self._page_by_time(column, filters, cursor, limit)
        limit = check_limit(limit)
        stmt = self._base().where(*filters)
        after = decode_cursor(cursor)
        if after is not None:
            stmt = stmt.where(self.model.id > after)
        rows = (await self.session.scalars(stmt.order_by(self.model.id).limit(limit + 1))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page[Any](
            items=[self.to_schema(r) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more else None,
        )

    async def _page_by_time(
        self, time_col: Any, filters: Sequence[ColumnElement[bool]], cursor: str | None, limit: int
    ) -> Page[R]:
        """`page` in (time, id) order."""
        limit = check_limit(limit)
        stmt = self._base().where(*filters)
        after = decode_time_cursor(cursor)
        if after is not None:
            stmt = stmt.where(
                tuple_(time_col, self.model.id) > tuple_(literal(after[0]), literal(after[1]))
            )
        stmt = stmt.order_by(time_col, self.model.id).limit(limit + 1)
        rows = (await self.session.scalars(stmt)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        return Page[Any](
            items=[self.to_schema(r) for r in rows],
            next_cursor=encode_time_cursor(getattr(last, time_col.key), last.id)
            if more and last
            else None,
        )

    async def _load(self, item_id: uuid.UUID) -> M:
        row = (await self.session.scalars(self._base().where(self.model.id == item_id))).first()
        if row is None:
            raise NotFound(f"{self.label} {item_id} not found")
        return row

    async def _load_writable(self, item_id: uuid.UUID) -> M:
        row = await self._load(item_id)
        allowed = await self.session.scalar(
            select(true()).where(
                self.model.tenant_id == self.p.tenant_id,
                self.model.id == item_id,
                self.writable(),
            )
        )
        if not allowed:
            raise Forbidden(f"you may not change this {self.label}")
        return row

    async def get(self, item_id: uuid.UUID) -> R:
        return self.to_schema(await self._load(item_id))

    async def create(self, data: Any) -> R:
        if not self.may_create():
            raise Forbidden(f"your role may not create a {self.label}")
        values = await self.create_values(data)
        row = self.model(tenant_id=self.p.tenant_id, **values)
        self.session.add(row)
        await self._flush()
        await self.session.refresh(row)
        return self.to_schema(row)

    async def update(self, item_id: uuid.UUID, data: BaseModel) -> R:
        row = await self._load_writable(item_id)
        changes = data.model_dump(exclude_unset=True)
        values = await self.update_values(row, changes)
        self._reject_nulls(values)
        for key, value in values.items():
            setattr(row, key, value)
        await self._flush()
        await self.session.refresh(row)
        return self.to_schema(row)

    async def delete(self, item_id: uuid.UUID) -> None:
        row = await self._load_writable(item_id)
        await self.session.delete(row)
        await self._flush(deleting=True)

    async def _flush(self, deleting: bool = False) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise domain_error_from_integrity(exc, deleting=deleting) from exc

    def _reject_nulls(self, values: dict[str, Any]) -> None:
        table = self.model.__table__
        for key, value in values.items():
            col = table.c.get(key)
            if value is None and col is not None and not col.nullable:
                raise Invalid(f"{key} must not be null", field=key)

    def equal_filters(self, **given: Any) -> list[ColumnElement[bool]]:
        """`column = value` for each filter the caller gave."""
        return [getattr(self.model, k) == v for k, v in given.items() if v is not None]

    def search_filters(
        self, q: str | None, near: tuple[float, float, float] | None
    ) -> list[ColumnElement[bool]]:
        """Name contains `q` (wildcards in `q` are literal); within `near`'s metres of a point."""
        conds: list[ColumnElement[bool]] = []
        if q:
            conds.append(self.model.name.icontains(q, autoescape=True))
        if near:
            lat, lon, within_m = near
            # The box first: under row-level security only it can use the index (0013).
            at = func.ST_GeogFromText(f"SRID=4326;POINT({lon!r} {lat!r})")
            box = func.fieldsense_box(at, within_m)
            conds.append(self.model.location.op("&&")(box))
            conds.append(func.ST_DWithin(self.model.location, point(lat, lon), within_m))
        return conds

    # --- checks shared by resources -------------------------------------------------
    async def require_unit(self, unit_id: uuid.UUID, field: str = "org_unit_id") -> None:
        """The unit exists in the tenant and lies in the caller's subtree."""
        stmt = select(OrgUnit.id).where(
            OrgUnit.tenant_id == self.p.tenant_id, OrgUnit.id == unit_id
        )
        if not self.p.is_admin:
            stmt = stmt.where(OrgUnit.id.in_(subtree_unit_ids(self.p)))
        if await self.session.scalar(stmt) is None:
            raise Invalid(f"unknown {field} (or outside your org subtree)", field=field)

    async def require_agent(self, user_id: uuid.UUID, field: str) -> None:
        """The user is an active agent the caller manages (or the caller, for agents)."""
        if self.p.is_agent:
            if user_id != self.p.id:
                raise Invalid(f"{field} must be yourself", field=field)
            return
        stmt = select(User.id).where(
            User.tenant_id == self.p.tenant_id, User.id == user_id, User.role == "agent"
        )
        if not self.p.is_admin:
            stmt = stmt.where(User.org_unit_id.in_(subtree_unit_ids(self.p)))
        if await self.session.scalar(stmt) is None:
            raise Invalid(f"unknown agent {field} (or outside your org subtree)", field=field)

    async def require_visible(
        self,
        service_cls: type[CrudService[Any, Any]],
        item_id: uuid.UUID,
        field: str,
        *,
        missing: type[DomainError] = Invalid,
    ) -> Any:
        """A referenced record the caller can see (same tenant, in scope), or an error naming
        it: 422 (`missing`: 404 where the record is what the request acts on)."""
        other = service_cls(self.session, self.p)
        try:
            return await other._load(item_id)
        except NotFound as exc:
            raise missing(f"unknown {field}", field=field) from exc

    # --- bulk imports: one query per kind of reference, never one per row ----------
    async def unit_row_errors(self, rows: Sequence[tuple[int, uuid.UUID | None]]) -> list[RowError]:
        units = {u for _, u in rows if u is not None}
        if self.p.is_agent:
            ok = units & {self.p.org_unit_id}
        elif units:
            stmt = select(OrgUnit.id).where(
                OrgUnit.tenant_id == self.p.tenant_id,
                OrgUnit.id.in_(units),
                unit_in_subtree(OrgUnit.id, self.p),
            )
            ok = set((await self.session.scalars(stmt)).all())
        else:
            ok = set()
        msg = "unknown org_unit_id (or outside your org subtree)"
        return [
            RowError(row=n, field="org_unit_id", message=msg) for n, u in rows if u and u not in ok
        ]

    async def reference_row_errors(
        self,
        rows: Sequence[tuple[int, uuid.UUID | None]],
        field: str,
        service_cls: type[CrudService[Any, Any]],
    ) -> list[RowError]:
        """Rows whose `field` names a record the caller cannot see (one query for all rows)."""
        wanted = {ref for _, ref in rows if ref is not None}
        if not wanted:
            return []
        other = service_cls(self.session, self.p)
        stmt = select(other.model.id).where(
            other.model.tenant_id == self.p.tenant_id, other.model.id.in_(wanted), other.visible()
        )
        found = set((await self.session.scalars(stmt)).all())
        return [
            RowError(row=n, field=field, message=f"unknown {field}")
            for n, ref in rows
            if ref is not None and ref not in found
        ]

    async def external_id_row_errors(
        self, rows: Sequence[tuple[int, str | None]]
    ) -> list[RowError]:
        wanted = [e for _, e in rows if e]
        if not wanted:
            return []
        stmt = select(self.model.external_id).where(
            self.model.tenant_id == self.p.tenant_id, self.model.external_id.in_(wanted)
        )
        taken = set((await self.session.scalars(stmt)).all())
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        for n, ext in rows:
            if not ext:
                continue
            if ext in taken:
                errors.append(
                    RowError(row=n, field="external_id", message=f"{ext!r} already exists")
                )
            elif ext in seen:
                errors.append(
                    RowError(row=n, field="external_id", message=f"{ext!r} repeats row {seen[ext]}")
                )
            else:
                seen[ext] = n
        return errors
