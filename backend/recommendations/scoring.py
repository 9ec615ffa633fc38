"""How much a visit to a customer is worth, and why: one formula for plans and suggestions.

Out of 100: the status (a prospect 40, a dormant customer 30, a customer 15), how long nobody
has been in touch (up to 40, full at 60 days; never contacted counts as 60) and the
customer's value (up to 20, full at 50,000), times what the team's outcomes taught about the
customer's segment: its conversion rate (appointments set and sales per conversation, with a
20 % prior worth 10 conversations) over the 20 % prior, kept between 0.25 and 3; plus the
boost of a running campaign the customer is an unconverted member of. RFM from transactions
is still to come.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# SQL expressions over a `customers` row aliased `c`, with `:now` bound: the base score from
# the customer's own record, the learned factor of its segment (view `segment_learning`,
# migration 0005) and the boost of the running campaigns it is an unconverted member of.
BASE_SQL = """((CASE c.status WHEN 'prospect' THEN 40 WHEN 'dormant' THEN 30 ELSE 15 END)
             + LEAST(40, coalesce(extract(epoch FROM (:now - c.last_contact_at)) / 86400, 60)
                         * 40 / 60)
             + LEAST(20, c.value / 50000 * 20))"""
FACTOR_SQL = """coalesce((SELECT l.factor FROM segment_learning l
                         WHERE l.tenant_id = c.tenant_id
                           AND l.segment = coalesce(c.life_stage, 'unknown')), 1)"""
BOOST_SQL = """coalesce((SELECT max(k.boost) FROM campaign_members m
                         JOIN campaigns k ON k.tenant_id = m.tenant_id AND k.id = m.campaign_id
                         WHERE m.tenant_id = c.tenant_id AND m.customer_id = c.id
                           AND m.status <> 'converted'
                           AND CAST(:now AS timestamptz)::date
                               BETWEEN k.starts_on AND k.ends_on), 0)"""
SCORE_SQL = f"LEAST(100, {BASE_SQL} * {FACTOR_SQL} + {BOOST_SQL})"


def adjusted(base: float, factor: float, boost: float) -> float:
    """The Python twin of SCORE_SQL, for hot paths that fetch factors and boosts in bulk."""
    return min(100.0, base * factor + boost)


STATUS_LABEL = {
    "prospect": "prospect",
    "dormant": "dormant customer: win back",
    "customer": "customer due for contact",
}


PRIOR_RATE = 0.2

LEARNED = """
SELECT segment, talks, conversions, not_home, rate, factor
FROM segment_learning WHERE tenant_id = $1 ORDER BY segment
"""


def reasons(
    row: dict[str, Any],
    now: datetime,
    learned: dict[str, Any] | None = None,
    campaigns: list[str] | None = None,
) -> list[str]:
    """Plain-language reasons behind a customer's score."""
    out = [STATUS_LABEL.get(row["status"], row["status"])]
    out += [f"campaign: {name}" for name in campaigns or []]
    last = row.get("last_contact_at")
    if last is None:
        out.append("never contacted")
    else:
        days = int((now - last).total_seconds() // 86400)
        out.append(f"untouched {days} days")
    if row.get("life_stage"):
        out.append(f"segment: {row['life_stage']}")
    segment = (learned or {}).get(row.get("life_stage") or "unknown")
    if segment is not None and segment["talks"]:
        out.append(
            f"{row.get('life_stage') or 'unsegmented'}: {segment['conversions']} of "
            f"{segment['talks']} conversations converted (learned rate "
            f"{segment['rate']:.0%}, x{segment['factor']:.2f})"
        )
    value = float(row.get("value") or 0)
    if value >= 50_000:
        out.append(f"high value ({int(value):,})")
    return out
