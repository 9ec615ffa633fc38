"""The recommendations domain's statements: nearby candidates in one round trip, candidates
along a planned route, and the context they read. Other domains' rows come through their
owners' relations (customers, plans, campaigns, tracking)."""

from __future__ import annotations

from functools import lru_cache

from backend.campaigns.queries import any_running, boost_sql, campaigns_of, running_campaigns
from backend.customers.queries import customers
from backend.customers.scoring import (
    WEIGHT_ORDER,
    array_weights,
    base_sql,
    score_sql,
    stored_weights_sql,
)
from backend.plans.queries import plan_stops, plans, profile_of
from backend.tracking.queries import visits

RECENT_DAYS = 14  # a customer visited this recently is not suggested again

# Candidates per query: the nearest, about four times as many as suggestions asked for
# (rounded up to tens, so only a few statements get prepared), within bounds. Measured on the
# benchmark's 1M prospects (docs/recommendations.md): the value per minute of the top 20
# from the nearest 50 / 100 / 150 / 1,000 is 99.3 / 99.7 / 99.8 / 100 % of the best, while
# each further candidate is one more random heap page read.
POOL_PER_ITEM = 4
POOL_MIN, POOL_MAX = 50, 400
POOL_WIDEN = 4  # when too few of the pool fit, the next query's pool is this much larger


def pool_size(limit: int) -> int:
    return min(POOL_MAX, max(POOL_MIN, POOL_PER_ITEM * 10 * -(-limit // 10)))


# The hot path of "nearby", in one round trip: raw asyncpg (a prepared statement, records
# without the ORM's row processing), only SQL written here formatted in, every value bound.
# `ctx` reads the agent's context once (profile, what the team's outcomes taught, the
# tenant's weights, whether a campaign runs that day); every row carries it (the first is
# read) and the LEFT JOIN keeps one row when there is no candidate. Empty preferred hours
# come back as NULL so most rows decode no JSON. The pool is a literal: with `LIMIT $n`
# PostgreSQL never trusts the generic plan and plans each call anew (about 1 ms here).
# $1 tenant, $2 agent, $3 agent's unit, $4 lon, $5 lat, $6 visited-recently cutoff, $7 now,
# $8.. the default weights (WEIGHT_ORDER).
_WEIGHTS_READ = ",\n           ".join(
    f"{w} AS w{i}" for i, w in enumerate(stored_weights_sql("t.settings", 8), start=1)
)
_SCORE_READ = base_sql("$7::timestamptz", [f"ctx.w{i}" for i in range(1, len(WEIGHT_ORDER) + 1)])
_FREE_TIME = f"""
WITH ctx AS MATERIALIZED (
    SELECT {profile_of("$1", "$2")} AS settings,
           (SELECT coalesce(json_agg(json_build_object(
                     'segment', segment, 'talks', talks, 'conversions', conversions,
                     'not_home', not_home, 'rate', rate, 'factor', factor)), '[]'::json)
            FROM segment_learning WHERE tenant_id = $1) AS learned,
           {any_running("$1", "$7::timestamptz::date")} AS campaigns_running,
           {_WEIGHTS_READ}
    FROM (SELECT) AS one LEFT JOIN tenants t ON t.id = $1
)
SELECT ctx.settings, ctx.learned, ctx.campaigns_running,
       n.id, n.name, n.status, n.life_stage, n.hours, n.value, n.last_contact_at, n.score,
       n.rfm_r, n.rfm_f, n.rfm_m, n.rfm_recency_days, n.churn_risk, n.distance_m,
       ST_Y(n.location::geometry) AS lat, ST_X(n.location::geometry) AS lon
FROM ctx
LEFT JOIN LATERAL (
    SELECT c.id, c.name, c.status, c.location, c.life_stage,
           NULLIF(c.preferred_hours, '[]'::jsonb) AS hours, c.value::float8 AS value,
           c.last_contact_at, c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_recency_days, c.churn_risk,
           ({_SCORE_READ})::float8 AS score,
           c.location <-> p.pt AS distance_m
    FROM {customers()} c,
         (SELECT ST_SetSRID(ST_MakePoint($4, $5), 4326)::geography AS pt) p
    WHERE c.tenant_id = $1 AND NOT c.do_not_visit
      AND (c.assigned_agent_id = $2
           OR (c.assigned_agent_id IS NULL AND c.org_unit_id IN (
                 SELECT u.id FROM org_units u
                 WHERE u.tenant_id = $1 AND u.path @> ARRAY[$3::uuid])))
      AND NOT EXISTS (
            SELECT 1 FROM {visits()} v
            WHERE v.tenant_id = c.tenant_id AND v.customer_id = c.id AND v.arrived_at > $6)
    ORDER BY c.location <-> p.pt
    LIMIT {{pool}}
) n ON true
"""  # noqa: S608 - the owners' SQL (plans, campaigns, customers, tracking, scoring), constants


@lru_cache(maxsize=16)
def free_time_sql(pool: int) -> str:
    return _FREE_TIME.replace("{pool}", str(int(pool)))


# Only on days a campaign runs, a second round trip: the candidates' boosts, set-based.
CAMPAIGN_BOOSTS = campaigns_of("$2::uuid[]", "$3::timestamptz::date")
PROFILE = f"SELECT {profile_of('$1', '$2')}"

_SCORE_ALONG = score_sql(
    "$5::timestamptz", array_weights("$7::float8[]"), boost_sql("$5::timestamptz")
)
ALONG = f"""
SELECT c.id, c.name, c.status, c.life_stage, c.value::float8 AS value, c.last_contact_at,
       c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_recency_days, c.churn_risk,
       ({_SCORE_ALONG})::float8 AS score,
       ST_Y(c.location::geometry) AS lat, ST_X(c.location::geometry) AS lon,
       ST_Distance(c.location, p.route) AS off_route_m, cb.names, cb.reached, cb.converted
FROM {plans()} p
JOIN users a ON a.tenant_id = p.tenant_id AND a.id = p.agent_id
JOIN {customers()} c ON c.tenant_id = p.tenant_id
{running_campaigns("c.id", "$5::timestamptz::date")}
WHERE p.tenant_id = $1 AND p.id = $2 AND NOT c.do_not_visit
  AND (c.assigned_agent_id = p.agent_id
       OR (c.assigned_agent_id IS NULL AND c.org_unit_id IN (
             SELECT u.id FROM org_units u
             WHERE u.tenant_id = $1 AND u.path @> ARRAY[a.org_unit_id])))
  AND c.location && fieldsense_box(p.route, $3) AND ST_DWithin(c.location, p.route, $3)
  AND NOT EXISTS (SELECT 1 FROM {plan_stops()} ps
                  WHERE ps.tenant_id = $1 AND ps.plan_id = $2 AND ps.customer_id = c.id)
  AND NOT EXISTS (
        SELECT 1 FROM {visits()} v
        WHERE v.tenant_id = c.tenant_id AND v.customer_id = c.id AND v.arrived_at > $4)
ORDER BY score DESC, off_route_m, c.id
LIMIT $6
"""  # noqa: S608 - the owners' SQL (plans, campaigns, customers, tracking, scoring), constants
# The plan's places in order: where it starts, its stops (seq 1..n), where it ends. Its route
# line follows the streets when it was planned on roads, so the places come from the stops.
STOPS_PATH = f"""
SELECT ST_Y(pt) AS lat, ST_X(pt) AS lon FROM (
    SELECT 0 AS seq, ST_StartPoint(route::geometry) AS pt
    FROM {plans()} p WHERE tenant_id = $1 AND id = $2
    UNION ALL
    SELECT s.seq, c.location::geometry
    FROM {plan_stops()} s JOIN {customers()} c
      ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
    WHERE s.tenant_id = $1 AND s.plan_id = $2
    UNION ALL
    SELECT 2147483647, ST_EndPoint(route::geometry)
    FROM {plans()} p WHERE tenant_id = $1 AND id = $2
) places ORDER BY seq
"""  # noqa: S608 - the owners' relations
WEIGHTS = "SELECT settings->'score_weights' FROM tenants WHERE id = $1"
PROVIDER = "SELECT settings->>'travel_provider' FROM tenants WHERE id = $1"
