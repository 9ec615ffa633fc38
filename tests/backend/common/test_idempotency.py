"""Safe retries (backend/common/idempotency.py): the same POST or PATCH with the same
`Idempotency-Key` gets the first response and makes no second change."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.common.idempotency import _read, valid_key
from tests.backend.world import Tenant, errors_for, ok

LAT, LON = 37.5512, 126.9882


async def _customer(t: Tenant, name: str) -> dict[str, Any]:
    return await t.post(
        "admin",
        "/customers",
        {"name": name, "lat": LAT, "lon": LON, "status": "prospect",
         "org_unit_id": str(t.units["T1"]), "assigned_agent_id": str(t.users["agent"])},
    )  # fmt: skip


async def _visits_at(client: AsyncTestClient[Litestar], t: Tenant, customer: str) -> list[Any]:
    resp = await client.get(
        "/visits", params={"agent_id": str(t.users["agent"])}, headers=t.h("agent")
    )
    return [v for v in (await ok(resp, 200))["items"] if v["customer_id"] == customer]


async def test_a_check_in_sent_three_times_with_one_key_is_one_visit(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    customer = await _customer(tenant, "retried check-in")
    body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 12}
    headers = {**tenant.h("agent"), "Idempotency-Key": str(uuid.uuid4())}
    answers = [await client.post("/visits", json=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert answers[0].content == answers[1].content == answers[2].content
    assert "idempotent-replayed" not in answers[0].headers
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert answers[2].headers["content-type"].startswith("application/json")
    assert [v["id"] for v in await _visits_at(client, tenant, customer["id"])] == [
        answers[0].json()["id"]
    ]

    # The key again with another body: a mistake, refused, and nothing is done.
    other = await client.post("/visits", json={**body, "accuracy_m": 30}, headers=headers)
    assert other.status_code == 422 and errors_for(other) == ["Idempotency-Key"]
    # The same key is the caller's own: another caller's request with it is theirs.
    theirs = await client.post(
        "/visits",
        json=body,
        headers={**tenant.h("manager"), "Idempotency-Key": headers["Idempotency-Key"]},
    )
    assert "idempotent-replayed" not in theirs.headers
    assert errors_for(theirs) != ["Idempotency-Key"]


async def test_patch_outcome_retried_and_keys_checked(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    customer = await _customer(tenant, "retried outcome")
    h = tenant.h("agent")
    body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 12}
    visit = await ok(await client.post("/visits", json=body, headers=h))
    key = {**h, "Idempotency-Key": "outcome-" + visit["id"]}
    first = await client.patch(f"/visits/{visit['id']}", json={"outcome": "met"}, headers=key)
    again = await client.patch(f"/visits/{visit['id']}", json={"outcome": "met"}, headers=key)
    assert first.status_code == again.status_code == 200 and first.content == again.content

    for bad in ("", "x" * 256, "two words"):
        resp = await client.post("/visits", json=body, headers={**h, "Idempotency-Key": bad})
        assert resp.status_code == 422 and errors_for(resp) == ["Idempotency-Key"], bad
    assert valid_key("a" * 255) and not valid_key("a" * 256) and not valid_key("a b")
    assert not valid_key("caf\u00e9")  # what the client library would not even send


async def test_a_refused_request_is_kept_and_a_concurrent_one_waits(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    h = {**tenant.h("agent"), "Idempotency-Key": str(uuid.uuid4())}
    # A check-in for a customer the agent cannot see: 404, and the retry is the same 404.
    body = {"customer_id": str(uuid.uuid4()), "lat": LAT, "lon": LON, "accuracy_m": 12}
    first = await client.post("/visits", json=body, headers=h)
    again = await client.post("/visits", json=body, headers=h)
    assert first.status_code == again.status_code == 404 and first.content == again.content

    customer = await _customer(tenant, "concurrent check-in")
    body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 12}
    h = {**tenant.h("agent"), "Idempotency-Key": str(uuid.uuid4())}
    both = await asyncio.gather(
        client.post("/visits", json=body, headers=h), client.post("/visits", json=body, headers=h)
    )
    codes = sorted(r.status_code for r in both)
    assert codes in ([201, 201], [201, 409]), codes
    busy = [r for r in both if r.status_code == 409]
    assert all(r.headers["retry-after"] == "1" for r in busy)
    assert len(await _visits_at(client, tenant, customer["id"])) == 1


async def test_a_body_cut_short_is_not_a_request() -> None:
    def feed(*messages: dict[str, Any]) -> Any:
        queue = list(messages)

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        return receive

    part = {"type": "http.request", "body": b'{"a": ', "more_body": True}
    assert await _read(feed(part, {"type": "http.disconnect"})) is None
    rest = {"type": "http.request", "body": b"1}", "more_body": False}
    assert await _read(feed(part, rest)) == (b'{"a": 1}', True)
