"""Declarative base, naming convention and the key helpers every table shares."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_last = [0, 0]  # last millisecond and sequence handed out by this process


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7, with a 12-bit sequence in `rand_a`).

    Keyset pagination by id then follows creation order, also within one millisecond.
    """
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, seq = _last[0], _last[1] + 1
        if seq > 0xFFF:
            ms, seq = ms + 1, 0
    else:
        seq = int.from_bytes(os.urandom(1), "big")  # leave room to count up
    _last[0], _last[1] = ms, seq
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= seq << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    return uuid.UUID(int=value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
