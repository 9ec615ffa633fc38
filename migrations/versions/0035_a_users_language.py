"""a user's language: the texts they read in it (backend/i18n)

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-08 00:00:00

NULL: the request's Accept-Language, else English.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(length=8), nullable=True))
    op.create_check_constraint(op.f("ck_users_user_locale"), "users", "locale IN ('en', 'ko')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_users_user_locale"), "users", type_="check")
    op.drop_column("users", "locale")
