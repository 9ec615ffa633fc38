"""The score in SQL (plans, along the route) and its Python twin (free time) agree, and so do
the tenant weights read in SQL and in Python."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.campaigns.queries import boost_sql
from backend.customers.scoring import (
    FACTOR_SQL,
    adjusted,
    array_weights,
    base_sql,
    score_sql,
    stored_weights_sql,
    weight_vector,
)
from backend.recommendations.services import (
    ALONG,
    CAMPAIGN_BOOSTS,
    DEFAULT_WEIGHTS,
    free_time_sql,
    pool_size,
    weights_of,
)
from backend.tenants.services import create_tenant
from backend.tenants.settings import ScoreWeights

W = array_weights("CAST(:w AS float8[])")


async def test_sql_score_equals_python_twin(engine: AsyncEngine) -> None:
    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        t = await create_tenant(
            session,
            slug=f"score-{uuid.uuid4().hex[:6]}",
            name="Score",
            admin_email="a@score.test",
            admin_password="correct-horse-battery",
        )
        tid, unit = t.tenant.id, t.hq.id
        rows = [
            ("prospect", None, 0, "young_family"),
            ("dormant", now - timedelta(days=20), 80000, "retired"),
            ("customer", now - timedelta(days=400), 1000, None),
        ]
        # Only the customer has RFM (5-4-3) and a churn risk (0.5).
        for status, last, value, stage in rows:
            await session.execute(
                text(
                    "INSERT INTO customers (tenant_id, id, org_unit_id, status, name, location, "
                    "value, last_contact_at, life_stage) VALUES (:t, gen_random_uuid(), :u, :s, "
                    "'x', ST_GeogFromText('POINT(127 37.5)'), :v, :l, :g)"
                ),
                {"t": tid, "u": unit, "s": status, "v": value, "l": last, "g": stage},
            )
        await session.execute(
            text(
                "UPDATE customers SET rfm_r = 5, rfm_f = 4, rfm_m = 3, churn_risk = 0.5 "
                "WHERE tenant_id = :t AND status = 'customer'"
            ),
            {"t": tid},
        )
        await session.execute(
            text(
                "INSERT INTO segment_outcomes (tenant_id, segment, outcome, visits) "
                "VALUES (:t, 'young_family', 'sale', 6), (:t, 'young_family', 'met', 2), "
                "(:t, 'retired', 'declined', 9)"
            ),
            {"t": tid},
        )
        # A running campaign of the dormant customer, boost 10, that converted 8 of the 10
        # members it reached: rate (8 + 2) / (10 + 10) = 50 %, 2.5 times the prior: 25 points.
        await session.execute(
            text(
                "INSERT INTO campaigns (tenant_id, id, name, kind, org_unit_id, starts_on, "
                "ends_on, boost, filters, reached, converted) VALUES (:t, gen_random_uuid(), "
                "'k', 'win_back', :u, :d, :d, 10, '{}', 10, 8)"
            ),
            {"t": tid, "u": unit, "d": now.date()},
        )
        await session.execute(
            text(
                "INSERT INTO campaign_members (tenant_id, campaign_id, customer_id, status) "
                "SELECT :t, k.id, c.id, 'targeted' FROM campaigns k, customers c "
                "WHERE k.tenant_id = :t AND c.tenant_id = :t AND c.status = 'dormant'"
            ),
            {"t": tid},
        )
        result = await session.execute(
            text(
                f"SELECT {score_sql(':now', W, boost_sql(':now'))} AS score, {base_sql(':now', W)} AS base, "  # noqa: S608 - the scoring module's SQL
                f"{FACTOR_SQL} AS factor, {boost_sql(':now')} AS boost, c.status "
                "FROM customers c WHERE c.tenant_id = :t"
            ),
            {"t": tid, "now": now, "w": weight_vector(ScoreWeights())},
        )
        checked = 0
        # By hand, default weights: the prospect never contacted 40 + 40; the dormant one
        # 30 + 40 * 20 / 60 + 20 (value at the cap); the customer 15 + 40 + 20 * 1000 / 50000
        # + RFM 5-4-3 20 * 9 / 12 + churn 0.5 * 20.
        by_hand = {"prospect": 80.0, "dormant": 30 + 40 * 20 / 60 + 20, "customer": 80.4}
        for score, base, factor, boost, status in result:
            assert abs(float(score) - adjusted(float(base), float(factor), float(boost))) < 1e-6
            assert float(base) == pytest.approx(by_hand[status], abs=1e-6)
            assert float(boost) == pytest.approx(25.0 if status == "dormant" else 0.0)
            checked += 1
        assert checked == 3


@pytest.mark.parametrize(
    "stored",
    [
        None,
        {},
        {"score_weights": ScoreWeights(prospect=5, churn=60, value_full=1000).model_dump()},
    ],
)
async def test_weights_read_in_sql_equal_the_python_reading(
    engine: AsyncEngine, stored: dict[str, object] | None
) -> None:
    """The free-time query reads a tenant's weights from its stored settings in SQL."""
    sql = "ARRAY[" + ", ".join(stored_weights_sql("CAST(:s AS jsonb)", 1)) + "]"
    for i in range(len(DEFAULT_WEIGHTS)):
        sql = sql.replace(f"${i + 1}::float8", f"CAST(:d{i} AS float8)")
    async with engine.connect() as conn:
        got = await conn.scalar(
            text(f"SELECT {sql}"),
            {
                "s": None if stored is None else json.dumps(stored),
                **{f"d{i}": w for i, w in enumerate(DEFAULT_WEIGHTS)},
            },
        )
    raw = (stored or {}).get("score_weights")
    assert list(got) == weights_of(raw)
    if stored and raw:
        assert got[0] == 5 and got[-1] == 60  # not the defaults


async def test_now_is_a_timestamp_in_every_hot_query(engine: AsyncEngine) -> None:
    """A parameter's type comes from its first use: `$n::date` there would make "now"
    midnight and every "untouched" part of a score up to a day short."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        db = raw.driver_connection
        assert db is not None
        expected = {
            ALONG: {4: "timestamptz", 5: "timestamptz"},
            free_time_sql(pool_size(20)): {6: "timestamptz", 7: "timestamptz"},
            CAMPAIGN_BOOSTS: {3: "timestamptz"},
        }
        for sql, types in expected.items():
            params = (await db.prepare(sql)).get_parameters()
            assert {n: params[n - 1].name for n in types} == types
