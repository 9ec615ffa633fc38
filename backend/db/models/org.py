"""Device credentials (the org domain's): one-time enrollment codes and rotating refresh
tokens. Only SHA-256 hashes are kept; the codes and tokens are shown once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.db.models._keys import TenantKeyed, tenant_fk


class DeviceEnrollment(TenantKeyed, Base):
    __tablename__ = "device_enrollments"
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        tenant_fk("device_id", "devices", ondelete="CASCADE"),
        Index("ix_device_enrollments_tenant_id_device_id", "tenant_id", "device_id"),
        Index("ix_device_enrollments_code_hash", "code_hash", unique=True),
    )


class DeviceRefreshToken(TenantKeyed, Base):
    __tablename__ = "device_refresh_tokens"
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Every token rotated from one enrollment shares its family: a token used twice (a copy
    # in someone else's hands) revokes them all.
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        tenant_fk("device_id", "devices", ondelete="CASCADE"),
        Index("ix_device_refresh_tokens_tenant_id_device_id", "tenant_id", "device_id"),
        Index("ix_device_refresh_tokens_tenant_id_family_id", "tenant_id", "family_id"),
    )
