"""Which customer a stay was at, by the weight of evidence: where its settled fixes are
(accuracy- and time-weighted), whether the customer is planned for the agent around then or
assigned to them; the runners-up kept with their shares. And the SQL that finds the
candidates and the stays' fixes."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.customers.queries import customers
from backend.plans.queries import planned_elsewhere_near, planned_near

STOP_CUSTOMER_M = 60.0


# The customers a stop may be at: up to three within STOP_CUSTOMER_M, the planned ones first,
# with what the choice weighs (attribute_stop): how far each is from where the stay was,
# whether it is planned for the agent around then (and not already seen: a stop there that
# ended before, within the three hours the plan's time allows, though a fence may still hold
# the agent), and whether it is assigned to the agent. A plan says to see a customer once:
# the stay after it, next door, is not there for the plan's sake.
STOP_CANDIDATES = f"""
SELECT s.i, c.id, c.d, c.planned AND NOT c.seen AS planned, c.assigned
FROM unnest($2::int[], $3::float8[], $4::float8[], $6::float8[]) AS s(i, lat, lon, t)
CROSS JOIN LATERAL (
    SELECT c.id,
           ST_Distance(c.location, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography) AS d,
           {planned_near(agent="$7::uuid", customer="c.id", t="s.t")} AS planned,
           EXISTS (SELECT 1 FROM visits v
                   JOIN visit_sightings x ON x.tenant_id = v.tenant_id AND x.visit_id = v.id
                   WHERE v.tenant_id = $1 AND v.agent_id = $7::uuid AND v.customer_id = c.id
                     AND v.retracted_at IS NULL
                     AND v.arrived_at > to_timestamp(s.t) - interval '6 hours'
                     AND x.source = 'stop' AND x.ended_at <= to_timestamp(s.t)
                     AND x.ended_at > to_timestamp(s.t) - interval '3 hours') AS seen,
           coalesce(c.assigned_agent_id = $7::uuid, false) AS assigned
    FROM {customers()} c
    WHERE c.tenant_id = $1
      AND c.location && fieldsense_box(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography, $5)
      AND ST_DWithin(c.location, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography, $5)
    ORDER BY planned DESC, c.location <-> ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography
    LIMIT 3
) c
"""  # noqa: S608 - constants of this module


# The weight of evidence: where the stay was (a Gaussian of the distance from its settled
# position, ATTRIBUTION_SIGMA_M wide: indoor fixes scatter by tens of metres), times
# PLANNED_WEIGHT when the agent's plan has the customer around then and ASSIGNED_WEIGHT when
# the customer is the agent's own. A planned customer 60 m away still outweighs a stranger at
# the door; between two unplanned neighbours, where the stay was decides.
ATTRIBUTION_SIGMA_M = 30.0
PLANNED_WEIGHT = 8.0


ASSIGNED_WEIGHT = 2.0


@dataclass(frozen=True, slots=True)
class Attribution:
    customer_id: uuid.UUID
    by: str  # plan, assigned or nearest
    runners_up: list[dict[str, Any]]  # [{customer_id, share}], best first


def attribute_stop(candidates: Sequence[Any]) -> Attribution | None:
    """The customer a stop goes to, by the weight of evidence, and the others' shares."""
    if not candidates:
        return None
    weighed = []
    for c in candidates:
        w = math.exp(-0.5 * (float(c["d"]) / ATTRIBUTION_SIGMA_M) ** 2)
        w *= PLANNED_WEIGHT if c["planned"] else 1.0
        w *= ASSIGNED_WEIGHT if c["assigned"] else 1.0
        weighed.append((w, -float(c["d"]), str(c["id"]), c))
    weighed.sort(reverse=True)
    total = sum(w for w, *_ in weighed) or 1.0
    best = weighed[0][3]
    by = "plan" if best["planned"] else "assigned" if best["assigned"] else "nearest"
    runners = [
        {"customer_id": str(c["id"]), "share": round(w / total, 3)} for w, _, _, c in weighed[1:]
    ]
    return Attribution(best["id"], by, runners)


# Of fence visits at customers, the ones to record: not those where the agent has another
# customer planned within the hour and within NEIGHBOUR_M, and this one is not planned.
FENCE_VISITS_KEPT = f"""
SELECT u.i
FROM unnest($2::int[], $3::uuid[], $4::float8[]) AS u(i, customer, t)
JOIN {customers()} cu ON cu.tenant_id = $1 AND cu.id = u.customer
WHERE {planned_near(agent="$5::uuid", customer="u.customer", t="u.t")}
   OR NOT {planned_elsewhere_near("$5::uuid", "u.customer", "u.t", "cu.location", "$6")}
"""  # noqa: S608 - constants of this module


NEIGHBOUR_M = 100.0


# A customer visit that has ended is attributed again from where the whole stay was (its
# settled position: geofence/stops.py), not where it began: a stop begins where the agent
# parked. Not one the customer's own fence saw dwell (that fence is evidence enough: one at
# the wrong door is not recorded, _elsewhere), nor one a person reassigned. A stop that took
# in a neighbour's fence (the visit's customer is not the fence's) is attributed again: the
# stop chose where it began, and that neighbour's door may have been the right one.
ENDED_CUSTOMER_VISITS = """
SELECT v.id, v.device_id, v.arrived_at, v.departed_at, v.customer_id
FROM visits v
WHERE v.tenant_id = $1 AND v.id = ANY($2::uuid[]) AND v.retracted_at IS NULL
  AND v.departed_at IS NOT NULL AND v.place_id IS NULL AND v.customer_id IS NOT NULL
  AND v.device_id IS NOT NULL AND v.attributed_by IS DISTINCT FROM 'person'
  AND NOT EXISTS (
      SELECT 1 FROM visit_sightings s
      JOIN visits f ON f.tenant_id = s.tenant_id AND f.id = s.id
      WHERE s.tenant_id = $1 AND s.visit_id = v.id AND s.source = 'geofence'
        AND f.customer_id = v.customer_id)
"""


STAY_FIXES = """
SELECT u.i, p.fix_time, p.lat, p.lon, p.accuracy_m
FROM unnest($2::int[], $3::uuid[], $4::timestamptz[], $5::timestamptz[]) AS u(i, device, a, b)
CROSS JOIN LATERAL (
    SELECT p.fix_time, p.lat, p.lon, p.accuracy_m FROM pings p
    WHERE p.tenant_id = $1 AND p.device_id = u.device AND p.fix_time >= u.a
      AND p.fix_time <= u.b AND p.flag IS NULL
    ORDER BY p.fix_time LIMIT 5000
) p
"""


REATTRIBUTE = """
UPDATE visits v SET customer_id = u.customer_id, attributed_by = u.by, runners_up = u.runners,
                    updated_at = now()
FROM jsonb_to_recordset($2::jsonb) AS u(id uuid, customer_id uuid, by text, runners jsonb)
WHERE v.tenant_id = $1 AND v.id = u.id
"""
