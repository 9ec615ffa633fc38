"""The score in SQL (plans, along the route) and its Python twin (free time) agree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.recommendations.scoring import BASE_SQL, BOOST_SQL, FACTOR_SQL, SCORE_SQL, adjusted
from backend.tenants.services import create_tenant


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
                "INSERT INTO segment_outcomes (tenant_id, segment, outcome, visits) "
                "VALUES (:t, 'young_family', 'sale', 6), (:t, 'young_family', 'met', 2), "
                "(:t, 'retired', 'declined', 9)"
            ),
            {"t": tid},
        )
        result = await session.execute(
            text(
                f"SELECT {SCORE_SQL} AS score, {BASE_SQL} AS base, {FACTOR_SQL} AS factor, "
                f"{BOOST_SQL} AS boost FROM customers c WHERE c.tenant_id = :t"
            ),
            {"t": tid, "now": now},
        )
        checked = 0
        for score, base, factor, boost in result:
            assert abs(float(score) - adjusted(float(base), float(factor), float(boost))) < 1e-6
            checked += 1
        assert checked == 3
