"""How much a visit to a customer is worth, and why: one formula for plans and suggestions.

With the default weights, out of 100: the status (a prospect 40, a dormant customer 30, a
customer 15), how long nobody has been in touch (up to 40, full at 60 days; never contacted
counts as 60), the customer's value (up to 20, full at 50,000), its RFM from imported
transactions (up to 20 for 5-5-5; backend/customers/rfm.py) and its churn risk (up to 20 at
risk 1). That sum is multiplied by what the team's outcomes taught about the customer's
segment: its conversion rate (appointments set and sales per conversation, with a 20 % prior
worth 10 conversations) over the 20 % prior, kept between 0.25 and 3; plus the boost of a
running campaign the customer is an unconverted member of; capped at 100. Each tenant can
set its own weights (`score_weights` in `PATCH /tenant/settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from asyncpg import Record

from backend.i18n import N_
from backend.tenants.settings import ScoreWeights

# SQL expressions over a `customers` row aliased `c`: the base score from the customer's own
# record under the tenant's weights (an SQL expression each, in WEIGHT_ORDER: subscripts of
# one bound array, or read from the stored settings), the learned factor of its segment (view
# `segment_learning`, migration 0005) and the boost of the running campaigns it is an
# unconverted member of. `now` names a bound parameter (a timestamptz).
WEIGHT_ORDER = (
    "prospect",
    "dormant",
    "customer",
    "untouched",
    "untouched_full_days",
    "value",
    "value_full",
    "rfm",
    "churn",
)


def array_weights(w: str) -> list[str]:
    """The weights as subscripts of one float8[] expression ``w`` (in WEIGHT_ORDER)."""
    return [f"({w})[{i}]" for i in range(1, len(WEIGHT_ORDER) + 1)]


def stored_weights_sql(settings: str, first_default: int) -> list[str]:
    """A tenant's weights read straight from its stored settings (``settings``, the jsonb
    column), an SQL expression each in WEIGHT_ORDER, a missing one from the defaults bound as
    ``$first_default`` onwards (``weight_vector(ScoreWeights())``). Stored settings always
    hold every weight (an update merges into the full model), so this reads what
    ``settings_of`` reads."""
    return [
        f"coalesce(({settings}->'score_weights'->>'{name}')::float8, ${first_default + i}::float8)"
        for i, name in enumerate(WEIGHT_ORDER)
    ]


def base_sql(now: str, weights: list[str]) -> str:
    """``weights``: an SQL expression per weight, in WEIGHT_ORDER (e.g. ``array_weights``)."""
    prospect, dormant, customer, untouched, full_days, value, value_full, rfm, churn = weights
    # Double precision throughout (date_part, not EXTRACT, which gives numeric): this runs for
    # every candidate of every suggestion; with numeric it took about a quarter longer.
    return f"""((CASE c.status WHEN 'prospect' THEN {prospect} WHEN 'dormant' THEN {dormant}
                              ELSE {customer} END)
             + {untouched} * LEAST(1, coalesce(date_part('epoch', {now} - c.last_contact_at)
                                          / 86400, {full_days}) / {full_days})
             + {value} * LEAST(1, c.value::float8 / {value_full})
             + {rfm} * coalesce((c.rfm_r + c.rfm_f + c.rfm_m - 3) / 12::float8, 0)
             + {churn} * coalesce(c.churn_risk, 0))"""


FACTOR_SQL = """coalesce((SELECT l.factor FROM segment_learning l
                         WHERE l.tenant_id = c.tenant_id
                           AND l.segment = coalesce(c.life_stage, 'unknown')), 1)"""


# A campaign's learned factor (over a `campaigns` row aliased `k`): its conversion rate,
# converted / reached with the segments' prior (20 % worth 10 members), over the prior.
CAMPAIGN_FACTOR_SQL = """LEAST(3, GREATEST(0.25,
    ((k.converted + 2)::float8 / (k.reached + 10)) / 0.2))"""


def learned_factor(reached: int, converted: int) -> tuple[float, float]:
    """The Python twin of CAMPAIGN_FACTOR_SQL: (rate, factor)."""
    rate = (converted + 2) / (reached + 10)
    return rate, min(3.0, max(0.25, rate / PRIOR_RATE))


def score_sql(now: str, weights: list[str], boost: str) -> str:
    """The score: ``boost`` is the SQL expression of the campaigns' boost (the campaigns
    domain's `boost_sql`, over the same `c`), "0" for none."""
    return f"LEAST(100, {base_sql(now, weights)} * {FACTOR_SQL} + {boost})"


def weight_vector(weights: ScoreWeights) -> list[float]:
    """The tenant's weights as the float8[] the SQL above reads."""
    return [float(getattr(weights, name)) for name in WEIGHT_ORDER]


def adjusted(
    base: npt.NDArray[np.float64] | float,
    factor: npt.NDArray[np.float64] | float,
    boost: npt.NDArray[np.float64] | float,
) -> npt.NDArray[np.float64]:
    """The Python twin of SCORE_SQL, for hot paths that fetch factors and boosts in bulk:
    numbers or arrays of them (one per candidate)."""
    return np.asarray(np.minimum(100.0, np.asarray(base) * factor + boost), dtype=np.float64)


STATUS_LABEL = {
    "prospect": N_("prospect"),
    "dormant": N_("dormant customer: win back"),
    "customer": N_("customer due for contact"),
}


PRIOR_RATE = 0.2

LEARNED = """
SELECT segment, talks, conversions, not_home, rate, factor
FROM segment_learning WHERE tenant_id = $1 ORDER BY segment
"""


def reasons(
    row: Mapping[str, Any] | Record,
    now: datetime,
    learned: dict[str, Any] | None = None,
    campaigns: list[str] | None = None,
) -> list[str]:
    """Plain-language reasons behind a customer's score. A row from a query with
    `running_campaigns` also says what each campaign has taught (`reached`, `converted`)."""
    out = [STATUS_LABEL.get(row["status"], row["status"])]
    out += [N_(f"campaign: {name}") for name in campaigns or []]
    taught = zip(
        campaigns or [], row.get("reached") or [], row.get("converted") or [], strict=False
    )
    for name, reached, converted in taught:
        if reached:
            rate, factor = learned_factor(reached, converted)
            out.append(
                N_(
                    f"{name}: {converted} of {reached} reached converted "
                    f"(learned rate {rate:.0%}, boost x{factor:.2f})"
                )
            )
    last = row.get("last_contact_at")
    if last is None:
        out.append(N_("never contacted"))
    else:
        days = int((now - last).total_seconds() // 86400)
        out.append(N_(f"untouched {days} days"))
    if row.get("life_stage"):
        out.append(N_(f"segment: {row['life_stage']}"))
    segment = (learned or {}).get(row.get("life_stage") or "unknown")
    if segment is not None and segment["talks"]:
        out.append(
            N_(
                f"{row.get('life_stage') or N_('unsegmented')}: {segment['conversions']} of "
                f"{segment['talks']} conversations converted (learned rate "
                f"{segment['rate']:.0%}, x{segment['factor']:.2f})"
            )
        )
    value = float(row.get("value") or 0)
    if value >= 50_000:
        out.append(N_(f"high value ({int(value):,})"))
    if row.get("rfm_r") is not None:
        r, f, m = row["rfm_r"], row["rfm_f"], row["rfm_m"]
        out.append(
            N_(f"RFM {r}-{f}-{m}" + (f" ({RFM_LABELS[(r, f)]})" if (r, f) in RFM_LABELS else ""))
        )
    risk = row.get("churn_risk")
    if risk is not None and risk >= CHURN_MEDIUM:
        level = N_("high") if risk >= CHURN_HIGH else N_("medium")
        out.append(N_(f"churn risk {level}: no purchase for {row['rfm_recency_days']} days"))
    return out


# The usual names of RFM cells, by recency and frequency quintile.
RFM_LABELS = {
    **{(r, f): N_("champion") for r in (4, 5) for f in (4, 5)},
    **{(r, f): N_("loyal, slipping away") for r in (1, 2) for f in (4, 5)},
    **{(5, f): N_("new or occasional buyer") for f in (1, 2)},
    **{(r, f): N_("lapsed") for r in (1, 2) for f in (1, 2)},
}
CHURN_MEDIUM = 0.25
CHURN_HIGH = 0.5
