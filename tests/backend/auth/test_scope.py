"""Who may act for an agent (backend/auth/scope.py `require_agent`, behind every endpoint that
names one): themselves, a manager above them, an admin; anyone else is told the agent is
unknown, naming the field. Asked through `GET /agents/{id}/profile`: 404 "no profile yet" when
allowed, 422 naming `user_id` when not."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, errors_for


@pytest.mark.parametrize(
    ("caller", "agent", "allowed"),
    [
        ("agent", "agent", True),
        ("agent", "agent2", False),
        ("manager", "agent", True),  # T1 is under the manager's R1
        ("manager", "agent2", False),  # T2 is not
        ("manager", "manager", False),  # not an agent
        ("admin", "agent2", True),
    ],
)
async def test_who_may_act_for_an_agent(
    client: AsyncTestClient[Litestar], tenant: Tenant, caller: str, agent: str, allowed: bool
) -> None:
    resp = await client.get(f"/agents/{tenant.users[agent]}/profile", headers=tenant.h(caller))
    if allowed:
        assert resp.status_code == 404, resp.text
    else:
        assert resp.status_code == 422, resp.text
        assert errors_for(resp) == ["user_id"]


async def test_another_tenants_agent_is_unknown(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    resp = await client.get(
        f"/agents/{other_tenant.users['agent']}/profile", headers=tenant.h("admin")
    )
    assert resp.status_code == 422 and errors_for(resp) == ["user_id"]
