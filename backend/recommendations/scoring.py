"""How much a visit to a customer is worth, and why: one formula for plans and suggestions.

Until the scoring issue's RFM, segment fit, campaigns and learned conversion land, the score is
what the customer base already says, out of 100: the status (a prospect 40, a dormant
customer 30, a customer 15), how long nobody has been in touch (up to 40, full at 60 days;
never contacted counts as 60), and the customer's value (up to 20, full at 50,000).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# A SQL expression over a `customers` row aliased `c`, with `:now` bound.
SCORE_SQL = """LEAST(100, (CASE c.status WHEN 'prospect' THEN 40 WHEN 'dormant' THEN 30 ELSE 15 END)
             + LEAST(40, coalesce(extract(epoch FROM (:now - c.last_contact_at)) / 86400, 60)
                         * 40 / 60)
             + LEAST(20, c.value / 50000 * 20))"""

STATUS_LABEL = {
    "prospect": "prospect",
    "dormant": "dormant customer: win back",
    "customer": "customer due for contact",
}


def reasons(row: dict[str, Any], now: datetime) -> list[str]:
    """Plain-language reasons behind a customer's score."""
    out = [STATUS_LABEL.get(row["status"], row["status"])]
    last = row.get("last_contact_at")
    if last is None:
        out.append("never contacted")
    else:
        days = int((now - last).total_seconds() // 86400)
        out.append(f"untouched {days} days")
    if row.get("life_stage"):
        out.append(f"segment: {row['life_stage']}")
    value = float(row.get("value") or 0)
    if value >= 50_000:
        out.append(f"high value ({int(value):,})")
    return out
