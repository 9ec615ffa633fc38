"""fence matching's kept plan no longer depends on the first tenant a connection served

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-25 01:00:00

`fieldsense_fence_near` (0020) found the fences with `tenant_id = fieldsense_tenant()`. Its plan
is made once per connection and kept (generic under the ingest transaction), but to estimate
how many rows a condition keeps, PostgreSQL evaluates a stable function such as
`fieldsense_tenant()` while planning. So the kept plan was made for whichever tenant the
connection served first: one with no fences (a new tenant, or none at all) made it read the
whole fence table by tenant and test each fence's reach, and every later batch of every
tenant on that connection paid for it (22 ms for one point with 10,000 fences, against 0.8
with the reach index). Read into a PL/pgSQL variable first, the tenant is a parameter of the
query, which the planner estimates without a value: the plan is the same whoever came first
(tests/backend/tracking/test_ingest_plans.py). Same arguments, same answers.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _m0020() -> ModuleType:
    path = Path(__file__).with_name("0020_fence_near_plan_kept.py")
    spec = importlib.util.spec_from_file_location("fieldsense_m0020", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


previous = _m0020()
QUERY = previous.QUERY.replace(
    "f.tenant_id = fieldsense_tenant() AND", "f.tenant_id = caller_tenant AND"
)
assert QUERY != previous.QUERY

PLPGSQL = (
    previous.HEAD
    + "LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$\n"
    + "#variable_conflict use_column\nDECLARE\n  caller_tenant uuid := fieldsense_tenant();\n"
    + "BEGIN\n  RETURN QUERY"
    + QUERY
    + ";\nEND $$"
)


def upgrade() -> None:
    previous._replace(PLPGSQL)  # drop, create, and grant to the app role only, as 0020 did


def downgrade() -> None:
    previous._replace(previous.PLPGSQL)
