"""Login and identity schemas."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Locale = Literal["en", "ko"]  # the languages of backend/i18n


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=63, description="the tenant's slug")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    kind: str
    id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    org_unit_id: uuid.UUID
    store_ids: list[uuid.UUID] = Field(default_factory=list)
    device_id: uuid.UUID | None = Field(
        default=None, description="the device whose own credential made the call, if one did"
    )
    locale: Locale | None = Field(
        default=None, description="the user's language setting; none: the browser's"
    )
    language: Locale = Field(
        default="en",
        description="the language this request's texts are in (setting, else "
        "Accept-Language, else English)",
    )


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: Locale | None = Field(description="en or ko; null: follow Accept-Language")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the scheme, not a secret)
    expires_in: int
    user: Me
