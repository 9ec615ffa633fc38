"""Login and identity schemas."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


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


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the scheme, not a secret)
    expires_in: int
    user: Me
