"""The campaigns domain's SQL for other domains' statements: what running campaigns add to a
customer's score and suggestions."""

from __future__ import annotations

from backend.customers.scoring import CAMPAIGN_FACTOR_SQL


def boost_sql(now: str) -> str:
    """The best boost of the running campaigns the customer (`c`) is an unconverted member
    of, learned factor included; 0 without one. ``now``: an SQL timestamptz expression."""
    return f"""coalesce((SELECT max(k.boost * {CAMPAIGN_FACTOR_SQL}) FROM campaign_members m
                         JOIN campaigns k ON k.tenant_id = m.tenant_id AND k.id = m.campaign_id
                         WHERE m.tenant_id = c.tenant_id AND m.customer_id = c.id
                           AND m.status <> 'converted'
                           AND CAST({now} AS timestamptz)::date
                               BETWEEN k.starts_on AND k.ends_on), 0)"""  # noqa: S608 - constants; `now` is an SQL expression chosen in code


# What the running campaigns a customer is an unconverted member of add to its suggestions:
# the best boost (learned factor included) and, by campaign name, the names and what each
# has taught (`reached`, `converted`). ``$1`` must be the tenant; ``day`` is an SQL date
# expression and ``customer`` an SQL condition on `m.customer_id`: fixed SQL written by
# callers, never values.
_CAMPAIGN_COLUMNS = f"""max(k.boost * {CAMPAIGN_FACTOR_SQL}) AS boost,
           array_agg(k.name ORDER BY k.name) AS names,
           array_agg(k.reached ORDER BY k.name) AS reached,
           array_agg(k.converted ORDER BY k.name) AS converted"""


def _memberships(customer: str, day: str) -> str:
    return f"""FROM campaign_members m
    JOIN campaigns k ON k.tenant_id = m.tenant_id AND k.id = m.campaign_id
    WHERE m.tenant_id = $1 AND {customer} AND m.status <> 'converted'
      AND {day} BETWEEN k.starts_on AND k.ends_on"""


def running_campaigns(customer: str, day: str) -> str:
    """A LEFT JOIN LATERAL (alias `cb`) with the campaign columns above for one customer per
    row: ``customer`` is the SQL column of its id."""
    return f"""
LEFT JOIN LATERAL (
    SELECT {_CAMPAIGN_COLUMNS}
    {_memberships(f"m.customer_id = {customer}", day)}
) cb ON true
"""


def campaigns_of(customers: str, day: str) -> str:
    """The campaign columns above per customer (`customer_id`), for the customers whose ids
    are in ``customers`` (an SQL uuid[] expression): one set-based query for a batch."""
    return f"""
SELECT m.customer_id, {_CAMPAIGN_COLUMNS}
{_memberships(f"m.customer_id = ANY({customers})", day)}
GROUP BY m.customer_id
"""


def any_running(tenant: str, day: str) -> str:
    """Whether the tenant runs a campaign on ``day`` (an SQL date expression)."""
    return f"""EXISTS (SELECT 1 FROM campaigns k
                   WHERE k.tenant_id = {tenant}
                     AND {day} BETWEEN k.starts_on AND k.ends_on)"""  # noqa: S608 - expressions chosen in code
