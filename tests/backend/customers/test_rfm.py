"""Transactions in, RFM and churn risk out (hand-computed), and the score's tenant weights."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.customers.rfm import score_customers
from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.52, 127.01
NOW = datetime.now(UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest_asyncio.fixture(scope="module")
async def book(tenant: Tenant) -> dict[str, str]:
    """Six customers, each 45 days untouched, and their purchases:

    A: 10, every 30 days, the last 5 days ago, 100 each (1,000)
    B: 2, 200 and 170 days ago, 150 each (300): five times past its 30-day rhythm
    C: 3, 100, 70 and 40 days ago, 50 each (150): a third past its rhythm
    D: 1, 10 days ago, 5,000 (one purchase: no rhythm, no churn risk)
    E: 1, 800 days ago (outside the two-year window: nothing)
    F: none
    """
    ids = {}
    for k, key in enumerate("ABCDEF"):
        row = await tenant.post(
            "admin",
            "/customers",
            {
                "name": key,
                **offset(LAT, LON, 40 * k, 0),
                "org_unit_id": str(tenant.units["T1"]),
                "assigned_agent_id": str(tenant.users["agent"]),
                "status": "customer",
                "last_contact_at": ago(45),
            },
        )
        ids[key] = str(row["id"])
    rows: list[dict[str, Any]] = []

    def buy(key: str, days: float, amount: str) -> None:
        rows.append(
            {
                "customer_id": ids[key],
                "occurred_at": ago(days),
                "amount": amount,
                "external_id": f"{key}-{len(rows)}",
            }
        )

    for i in range(10):
        buy("A", 5 + 30 * i, "100")
    buy("B", 200, "150")
    buy("B", 170, "150")
    for d in (100, 70, 40):
        buy("C", d, "50")
    buy("D", 10, "5000")
    buy("E", 800, "70")
    result = await tenant.post("manager", "/transactions", {"transactions": rows})
    assert result["imported"] == len(rows) == 17
    assert result["duplicates"] == 0
    return ids


async def customer(tenant: Tenant, cid: str) -> dict[str, Any]:
    resp = await tenant.client.get(f"/customers/{cid}", headers=tenant.h("admin"))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


class TestRfm:
    async def test_quintiles_and_churn_risk_by_hand(
        self, tenant: Tenant, book: dict[str, str]
    ) -> None:
        # Four customers with transactions in the window; quintile = ceil(5 * cume_dist):
        # recency (oldest first) B C D A -> 2 3 4 5; frequency D B C A (1 2 3 10) -> 2 3 4 5;
        # monetary C B A D (150 300 1000 5000) -> 2 3 4 5.
        expected = {
            "A": (5, 10, 1000.0, 5, 5, 4, 0.0),  # 5 days / 30-day gap: not overdue
            "B": (170, 2, 300.0, 2, 3, 3, 1.0),  # (170 / 30 - 1) / 2 > 1: capped
            "C": (40, 3, 150.0, 3, 4, 2, (40 / 30 - 1) / 2),
            "D": (10, 1, 5000.0, 4, 2, 5, None),
        }
        for key, (days, n, total, r, f, m, risk) in expected.items():
            c = await customer(tenant, book[key])
            assert (c["rfm_recency_days"], c["rfm_frequency"], c["rfm_monetary"]) == (
                days,
                n,
                total,
            ), key
            assert (c["rfm_r"], c["rfm_f"], c["rfm_m"]) == (r, f, m), key
            if risk is None:
                assert c["churn_risk"] is None, key
            else:
                assert c["churn_risk"] == pytest.approx(risk, abs=1e-3), key
        for key in "EF":
            c = await customer(tenant, book[key])
            assert c["rfm_frequency"] is None and c["rfm_r"] is None and c["churn_risk"] is None

    async def test_importing_again_changes_nothing(
        self, tenant: Tenant, book: dict[str, str]
    ) -> None:
        again = await tenant.post(
            "admin",
            "/transactions",
            {
                "transactions": [
                    {
                        "customer_id": book["B"],
                        "occurred_at": ago(200),
                        "amount": "150",
                        "external_id": "B-10",
                    }
                ]
            },
        )
        assert (again["imported"], again["duplicates"]) == (0, 1)
        assert (await customer(tenant, book["B"]))["rfm_frequency"] == 2

    async def test_the_job_follows_the_calendar(
        self, tenant: Tenant, book: dict[str, str], engine: AsyncEngine
    ) -> None:
        async with AsyncSession(engine) as session:
            # Three years on, every purchase is out of the window: nothing is left.
            await score_customers(session, NOW + timedelta(days=3 * 365))
            await session.commit()
        assert (await customer(tenant, book["A"]))["rfm_r"] is None
        async with AsyncSession(engine) as session:
            await score_customers(session, NOW + timedelta(seconds=1))
            await session.commit()
        assert (await customer(tenant, book["A"]))["rfm_r"] == 5

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"customer_id": str(uuid.uuid4())}, "transactions.0.customer_id"),
            ({"occurred_at": (NOW + timedelta(days=3)).isoformat()}, "transactions.0.occurred_at"),
            ({"amount": "NaN"}, "transactions.0.amount"),
            ({"amount": "1.234"}, "transactions.0.amount"),
            ({"colour": "red"}, "transactions.0.colour"),
        ],
    )
    async def test_bad_rows_are_named_and_nothing_is_stored(
        self, tenant: Tenant, book: dict[str, str], change: dict[str, Any], field: str
    ) -> None:
        row = {"customer_id": book["F"], "occurred_at": ago(1), "amount": "10", **change}
        good = {"customer_id": book["F"], "occurred_at": ago(2), "amount": "10"}
        resp = await tenant.client.post(
            "/transactions", json={"transactions": [row, good]}, headers=tenant.h("admin")
        )
        assert resp.status_code == 422, resp.text
        assert field in errors_for(resp)[0]
        assert (await customer(tenant, book["F"]))["rfm_frequency"] is None

    async def test_who_may_import(
        self, tenant: Tenant, other_tenant: Tenant, book: dict[str, str]
    ) -> None:
        row = {"customer_id": book["F"], "occurred_at": ago(1), "amount": "10"}
        resp = await tenant.client.post(
            "/transactions", json={"transactions": [row]}, headers=tenant.h("agent")
        )
        assert resp.status_code == 403
        # Another tenant's admin: the customer does not exist for them.
        resp = await other_tenant.client.post(
            "/transactions", json={"transactions": [row]}, headers=other_tenant.h("admin")
        )
        assert resp.status_code == 422
        assert errors_for(resp) == ["transactions.0.customer_id"]
        resp = await tenant.client.post(
            "/transactions", json={"transactions": []}, headers=tenant.h("admin")
        )
        assert resp.status_code == 422

    async def test_reading_a_customers_transactions(
        self, tenant: Tenant, other_tenant: Tenant, book: dict[str, str]
    ) -> None:
        resp = await tenant.client.get(
            "/transactions", params={"customer_id": book["C"]}, headers=tenant.h("agent")
        )
        assert resp.status_code == 200, resp.text
        assert [(t["amount"], t["external_id"]) for t in resp.json()] == [
            (50.0, "C-14"),
            (50.0, "C-13"),
            (50.0, "C-12"),
        ]
        # agent2 is not assigned the customer; another tenant does not see it at all.
        for who, t in (("agent2", tenant), ("admin", other_tenant)):
            resp = await t.client.get(
                "/transactions", params={"customer_id": book["C"]}, headers=t.h(who)
            )
            assert resp.status_code == 404, (who, resp.text)


async def suggestions(tenant: Tenant) -> dict[str, dict[str, Any]]:
    resp = await tenant.client.post(
        "/recommendations/free-time",
        json={"position": {"lat": LAT, "lon": LON}, "free_minutes": 180, "limit": 100},
        headers=tenant.h("agent"),
    )
    assert resp.status_code == 200, resp.text
    return {i["name"]: i for i in resp.json()["items"]}


class TestWeights:
    async def test_rfm_and_churn_in_scores_and_reasons(
        self, tenant: Tenant, book: dict[str, str]
    ) -> None:
        items = await suggestions(tenant)
        # Default weights: a customer 15, 45 of 60 days untouched 40 * 0.75 = 30, no value.
        assert items["F"]["score"] == pytest.approx(45, abs=0.01)
        # B: RFM 2-3-3 is 20 * 5 / 12, churn risk 1 is 20.
        assert items["B"]["score"] == pytest.approx(45 + 20 * 5 / 12 + 20, abs=0.01)
        assert "churn risk high: no purchase for 170 days" in items["B"]["reasons"]
        assert "RFM 2-3-3" in items["B"]["reasons"]
        assert "RFM 5-5-4 (champion)" in items["A"]["reasons"]
        assert not any("churn" in r for r in items["A"]["reasons"])

    async def test_a_tenant_sets_its_own_weights(
        self, tenant: Tenant, book: dict[str, str]
    ) -> None:
        resp = await tenant.client.patch(
            "/tenant/settings",
            json={"score_weights": {"churn": 60, "rfm": 0, "untouched": 0}},
            headers=tenant.h("admin"),
        )
        assert resp.status_code == 200, resp.text
        weights = resp.json()["score_weights"]
        assert (weights["churn"], weights["rfm"], weights["customer"]) == (60, 0, 15)
        try:
            items = await suggestions(tenant)
            assert items["F"]["score"] == pytest.approx(15, abs=0.01)
            assert items["B"]["score"] == pytest.approx(15 + 60, abs=0.01)
            assert items["C"]["score"] == pytest.approx(15 + 60 * (40 / 30 - 1) / 2, abs=0.01)
        finally:
            await tenant.client.patch(
                "/tenant/settings",
                json={"score_weights": {"churn": 20, "rfm": 20, "untouched": 40}},
                headers=tenant.h("admin"),
            )

    @pytest.mark.parametrize(
        "weights", [{"churn": -1}, {"rfm": 101}, {"value_full": 0}, {"bogus": 1}]
    )
    async def test_bad_weights_are_named(self, tenant: Tenant, weights: dict[str, Any]) -> None:
        resp = await tenant.client.patch(
            "/tenant/settings", json={"score_weights": weights}, headers=tenant.h("admin")
        )
        assert resp.status_code == 422, resp.text
        assert next(iter(weights)) in errors_for(resp)[0]
