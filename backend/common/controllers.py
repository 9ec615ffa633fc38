"""Builds the read / create / update / delete handlers of a resource once.

Deliberately no `from __future__ import annotations` here: the handlers' annotations
must be the real schema classes so Litestar can build the OpenAPI contract from them.
Each domain adds its own list handler (its filters differ) to the returned class.
"""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter
from pydantic import BaseModel

from backend.auth.security import Principal
from backend.common.crud import CrudService
from backend.common.deps import DbSession


def crud_controller(
    *,
    path: str,
    tag: str,
    noun: str,
    service: type[CrudService[Any, Any]],
    create_schema: type[BaseModel],
    update_schema: type[BaseModel],
    read_schema: type[BaseModel],
) -> type[Controller]:
    """A Controller with `GetX`, `CreateX`, `UpdateX`, `DeleteX` for one resource."""
    ItemId = Annotated[uuid.UUID, PathParameter(description=f"the {noun}'s id")]

    async def get_one(
        self: Controller,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        item_id: ItemId,
    ) -> read_schema:  # type: ignore[valid-type]
        return await service(db_session, request.user).get(item_id)

    async def create_one(
        self: Controller,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[create_schema],  # type: ignore[valid-type]
    ) -> read_schema:  # type: ignore[valid-type]
        return await service(db_session, request.user).create(data)

    async def update_one(
        self: Controller,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[update_schema],  # type: ignore[valid-type]
        item_id: ItemId,
    ) -> read_schema:  # type: ignore[valid-type]
        return await service(db_session, request.user).update(item_id, data)

    async def delete_one(
        self: Controller,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        item_id: ItemId,
    ) -> None:
        await service(db_session, request.user).delete(item_id)

    return type(
        f"{noun}CrudController",
        (Controller,),
        {
            "path": path,
            "tags": [tag],
            "get_one": get("/{item_id:uuid}", operation_id=f"Get{noun}")(get_one),
            "create_one": post("/", operation_id=f"Create{noun}")(create_one),
            "update_one": patch("/{item_id:uuid}", operation_id=f"Update{noun}")(update_one),
            "delete_one": delete("/{item_id:uuid}", operation_id=f"Delete{noun}")(delete_one),
        },
    )
