"""Builds the read / create / update / delete handlers of a resource once.

Deliberately no `from __future__ import annotations` here: the handlers' annotations
must be the real schema classes so Litestar can build the OpenAPI contract from them.
Each domain adds its own list handler (its filters differ) to the returned class.
"""

import uuid
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from pydantic import BaseModel

from backend.common.crud import CrudService
from backend.common.deps import per_request


def crud_controller(
    *,
    path: str,
    tag: str,
    noun: str,
    service: type[CrudService[Any, Any]],
    create_schema: type[BaseModel],
    update_schema: type[BaseModel],
    read_schema: type[BaseModel],
    provide: Provide | None = None,
) -> type[Controller]:
    """A Controller with `GetX`, `CreateX`, `UpdateX`, `DeleteX` for one resource. The
    service is made per request from the session and the caller, or by `provide` (a service
    that needs more of the app)."""
    ItemId = Annotated[uuid.UUID, PathParameter(description=f"the {noun}'s id")]

    async def get_one(
        self: Controller,
        crud_service: NamedDependency[Any],
        item_id: ItemId,
    ) -> read_schema:  # type: ignore[valid-type]
        return await crud_service.get(item_id)

    async def create_one(
        self: Controller,
        crud_service: NamedDependency[Any],
        data: JSONBody[create_schema],  # type: ignore[valid-type]
    ) -> read_schema:  # type: ignore[valid-type]
        return await crud_service.create(data)

    async def update_one(
        self: Controller,
        crud_service: NamedDependency[Any],
        data: JSONBody[update_schema],  # type: ignore[valid-type]
        item_id: ItemId,
    ) -> read_schema:  # type: ignore[valid-type]
        return await crud_service.update(item_id, data)

    async def delete_one(
        self: Controller,
        crud_service: NamedDependency[Any],
        item_id: ItemId,
    ) -> None:
        await crud_service.delete(item_id)

    # On each handler, not the class: a domain's subclass declares its own `dependencies`.
    deps = {"crud_service": provide or per_request(service)}
    return type(
        f"{noun}CrudController",
        (Controller,),
        {
            "path": path,
            "tags": [tag],
            "get_one": get("/{item_id:uuid}", operation_id=f"Get{noun}", dependencies=deps)(
                get_one
            ),
            "create_one": post("/", operation_id=f"Create{noun}", dependencies=deps)(create_one),
            "update_one": patch("/{item_id:uuid}", operation_id=f"Update{noun}", dependencies=deps)(
                update_one
            ),
            "delete_one": delete(
                "/{item_id:uuid}", operation_id=f"Delete{noun}", dependencies=deps
            )(delete_one),
        },
    )
