"""RFM and churn risk from customers' transactions, and their import.

Over the last two years of a customer's transactions (``WINDOW_DAYS``):

- recency: days since the last one; frequency: how many; monetary: their sum;
- each as a quintile among the tenant's customers with transactions, 1 to 5 (5: the most
  recent, the most frequent, the most spent). Ties share a quintile: it is the rounded-up
  fifth of the customers at or below the value (``ceil(5 * cume_dist())``);
- churn risk, for customers with two or more: how far the customer is past their usual gap
  between purchases. ``overdue`` = days since the last / the mean gap (at least a day); the
  risk is 0 up to the usual gap and grows to 1 at three times it: ``(overdue - 1) / 2``,
  kept in [0, 1]. One purchase says nothing about a rhythm: no risk (NULL).

Computed by SQL for whole tenants (quintiles are relative): after every import, and daily by
the ``score_customers`` job, since recency moves with the calendar. Customers with no
transaction in the window have all of it NULL, and score nothing for it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import unit_in_subtree
from backend.auth.security import Principal
from backend.db.models import Customer
from backend.errors import Forbidden, Invalid

WINDOW_DAYS = 730
MAX_IMPORT = 5_000
# A transaction dated this far in the future is a mistake, not a clock difference.
FUTURE_SLACK = timedelta(hours=24)

RECOMPUTE = text(
    """
WITH t AS (
    SELECT tenant_id, customer_id, max(occurred_at) AS last_at, min(occurred_at) AS first_at,
           count(*)::int AS n, sum(amount) AS total
    FROM transactions
    WHERE (CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
      AND occurred_at > CAST(:now AS timestamptz) - make_interval(days => :window)
      AND occurred_at <= CAST(:now AS timestamptz)
    GROUP BY tenant_id, customer_id
), q AS (
    SELECT tenant_id, customer_id, n, total,
           floor(extract(epoch FROM CAST(:now AS timestamptz) - last_at) / 86400)::int AS days,
           greatest(1, ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY last_at)))
               AS r,
           greatest(1, ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY n))) AS f,
           greatest(1, ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY total))) AS m,
           CASE WHEN n >= 2 THEN
               extract(epoch FROM CAST(:now AS timestamptz) - last_at)
               / greatest(86400, extract(epoch FROM last_at - first_at) / (n - 1))
           END AS overdue
    FROM t
), cleared AS (
    UPDATE customers c
    SET rfm_recency_days = NULL, rfm_frequency = NULL, rfm_monetary = NULL,
        rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, churn_risk = NULL
    WHERE (CAST(:tenant AS uuid) IS NULL OR c.tenant_id = CAST(:tenant AS uuid))
      AND c.rfm_frequency IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM q WHERE q.tenant_id = c.tenant_id AND q.customer_id = c.id)
)
UPDATE customers c
SET rfm_recency_days = q.days, rfm_frequency = q.n, rfm_monetary = q.total,
    rfm_r = q.r, rfm_f = q.f, rfm_m = q.m,
    -- (GREATEST and LEAST skip NULLs: one purchase must stay "no risk known", not 0.)
    churn_risk = CASE WHEN q.overdue IS NOT NULL
                      THEN least(1, greatest(0, (q.overdue - 1) / 2)) END
FROM q
WHERE c.tenant_id = q.tenant_id AND c.id = q.customer_id
"""
)


async def score_customers(session: AsyncSession, now: datetime) -> int:
    """Recompute every tenant's RFM and churn risk (a job): customers updated."""
    return await recompute(session, None, now)


async def recompute(session: AsyncSession, tenant_id: uuid.UUID | None, now: datetime) -> int:
    result = await session.execute(
        RECOMPUTE,
        {"tenant": tenant_id, "now": now, "window": WINDOW_DAYS},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


class TransactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: uuid.UUID
    occurred_at: datetime = Field(description="when it happened, RFC 3339 with an offset")
    amount: Annotated[
        Decimal,
        Field(
            max_digits=14,
            decimal_places=2,
            ge=-999_999_999_999.99,
            le=999_999_999_999.99,
            description="negative for a refund",
        ),
        AfterValidator(_finite),
    ]
    product: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the tenant's own id: importing it again changes nothing",
    )


class TransactionImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: list[TransactionIn] = Field(min_length=1, max_length=MAX_IMPORT)


class TransactionOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    amount: float
    product: str | None
    external_id: str | None


class TransactionImportResult(BaseModel):
    imported: int
    duplicates: int
    customers_scored: int


INSERT = text(
    """
INSERT INTO transactions (tenant_id, id, customer_id, occurred_at, amount, product, external_id)
SELECT :tenant, gen_random_uuid(), t.customer_id, t.occurred_at, t.amount, t.product,
       t.external_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS t(customer_id uuid, occurred_at timestamptz, amount numeric, product text,
          external_id text)
ON CONFLICT (tenant_id, external_id) DO NOTHING
"""
)


async def import_transactions(
    session: AsyncSession, p: Principal, data: TransactionImport, now: datetime | None = None
) -> TransactionImportResult:
    """Store a batch of transactions (all or none) and rescore the tenant's customers."""
    if not (p.is_admin or p.is_manager):
        raise Forbidden("importing transactions is for managers and admins")
    now = now or datetime.now(UTC)
    rows = data.transactions
    # The customers the caller may import for: an admin's whole tenant, a manager's subtree.
    known = set(
        await session.scalars(
            select(Customer.id).where(
                Customer.tenant_id == p.tenant_id,
                Customer.id.in_({t.customer_id for t in rows}),
                unit_in_subtree(Customer.org_unit_id, p),
            )
        )
    )
    seen: set[str] = set()
    for i, t in enumerate(rows):
        if t.customer_id not in known:
            raise Invalid(f"no customer {t.customer_id}", field=f"transactions.{i}.customer_id")
        if t.occurred_at.tzinfo is None:
            raise Invalid("give a time zone offset", field=f"transactions.{i}.occurred_at")
        if t.occurred_at > now + FUTURE_SLACK:
            raise Invalid("in the future", field=f"transactions.{i}.occurred_at")
        if t.external_id is not None:
            if t.external_id in seen:
                raise Invalid(
                    "the same external_id twice in one import",
                    field=f"transactions.{i}.external_id",
                )
            seen.add(t.external_id)
    payload: list[dict[str, Any]] = [
        {
            "customer_id": str(t.customer_id),
            "occurred_at": t.occurred_at.isoformat(),
            "amount": str(t.amount),
            "product": t.product,
            "external_id": t.external_id,
        }
        for t in rows
    ]
    result = await session.execute(INSERT, {"tenant": p.tenant_id, "rows": json.dumps(payload)})
    imported = int(getattr(result, "rowcount", 0) or 0)
    scored = await recompute(session, p.tenant_id, now)
    return TransactionImportResult(
        imported=imported, duplicates=len(rows) - imported, customers_scored=scored
    )


LIST = text(
    """SELECT id, customer_id, occurred_at, amount::float8 AS amount, product, external_id
       FROM transactions WHERE tenant_id = :tenant AND customer_id = :customer
       ORDER BY occurred_at DESC, id LIMIT :limit"""
)


async def customer_transactions(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: uuid.UUID, limit: int
) -> list[TransactionOut]:
    """A customer's transactions, newest first (the caller has checked it may see them)."""
    rows = await session.execute(
        LIST, {"tenant": tenant_id, "customer": customer_id, "limit": limit}
    )
    return [TransactionOut.model_validate(dict(r._mapping)) for r in rows]
