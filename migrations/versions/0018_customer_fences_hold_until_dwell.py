"""fence matching says which fences hold their stays until they dwell (customers' doors)

`fieldsense_fence_near` (0014) also returns `hold`: true for a fence around a customer. The
engine announces a stay at such a fence only once it dwells (geofence/presence.py): driving
past a customer's door or waiting next door is no event. The function is 0014's with that
one column more.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24 17:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "fieldsense_app"
SIG = "fieldsense_fence_near(float8[], float8[], float8[], int[])"


def _m0014() -> ModuleType:
    path = Path(__file__).with_name("0014_fence_reach_and_batch_matching.py")
    spec = importlib.util.spec_from_file_location("fieldsense_m0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_hold(fn: str) -> str:
    changes = [
        (
            "RETURNS TABLE (i int, id uuid, dwell_s int, exit_buffer_m float8, d float8)",
            "RETURNS TABLE (i int, id uuid, dwell_s int, exit_buffer_m float8, d float8,"
            " hold boolean)",
        ),
        (
            "SELECT st.s, f.id, f.dwell_s, f.exit_buffer_m,",
            "SELECT st.s, f.id, f.dwell_s, f.exit_buffer_m, f.customer_id IS NOT NULL AS hold,",
        ),
        (
            "SELECT p.i, p.acc, f.id, f.dwell_s, f.exit_buffer_m,",
            "SELECT p.i, p.acc, f.id, f.dwell_s, f.exit_buffer_m, f.hold,",
        ),
        (
            "SELECT i, id, dwell_s, exit_buffer_m, d FROM pair",
            "SELECT i, id, dwell_s, exit_buffer_m, d, hold FROM pair",
        ),
    ]
    for old, new in changes:
        assert fn.count(old) == 1, old
        fn = fn.replace(old, new)
    return fn


def _replace(fn: str) -> None:
    op.execute(f"DROP FUNCTION {SIG}")
    op.execute(fn)
    op.execute(f"REVOKE ALL ON FUNCTION {SIG} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIG} TO {ROLE}")


def upgrade() -> None:
    _replace(_with_hold(_m0014().NEAR_FN))


def downgrade() -> None:
    _replace(_m0014().NEAR_FN)
