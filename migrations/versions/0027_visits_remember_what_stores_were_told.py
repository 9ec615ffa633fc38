"""visits remember what was told of them: one started / ended pair a stay, and corrections

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 13:00:00

Each source's sighting of a stay sent its own `visit_started` / `visit_ended` (a store's fence
and a stop; a beacon or Wi-Fi visit none at all), under the sighting's id. The visit now says
it once: `told` is what its events have said so far (nothing, started, ended, retracted) and
`told_*` the arrival, departure, customer and place they said. After every change, the visits
it touched are compared with what was told, and the difference is an event: `visit_started`,
`visit_ended`, `visit_updated` (a late batch, a merge or a reassignment changed a visit already
told) or `visit_retracted`. The engine's own per-source events are `sighting_started` and
`sighting_ended` from now on; events recorded before keep their kinds.

Visits recorded before are taken as told as they are: no storm of events for old visits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("told", sa.String(length=12), nullable=True))
    op.add_column("visits", sa.Column("told_arrived_at", sa.DateTime(timezone=True)))
    op.add_column("visits", sa.Column("told_departed_at", sa.DateTime(timezone=True)))
    op.add_column("visits", sa.Column("told_customer_id", sa.Uuid()))
    op.add_column("visits", sa.Column("told_place_id", sa.Uuid()))
    op.create_check_constraint(
        "told", "visits", "told IS NULL OR told IN ('started', 'ended', 'retracted')"
    )
    op.execute(
        """UPDATE visits SET
             told = CASE WHEN retracted_at IS NOT NULL THEN 'retracted'
                         WHEN departed_at IS NULL THEN 'started' ELSE 'ended' END,
             told_arrived_at = arrived_at, told_departed_at = departed_at,
             told_customer_id = customer_id, told_place_id = place_id"""
    )


def downgrade() -> None:
    op.drop_constraint("told", "visits", type_="check")
    for column in ("told_place_id", "told_customer_id", "told_departed_at", "told_arrived_at"):
        op.drop_column("visits", column)
    op.drop_column("visits", "told")
