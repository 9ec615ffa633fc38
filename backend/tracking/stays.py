"""One stay, one visit: the SQL behind visits made of sightings (each source's view of a
stay), their ends, and stays seen twice merged (backend/tracking/records.py writes them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from backend.customers.queries import customers
from backend.db.jsonb import dumps
from backend.tracking.attribution import STOP_CUSTOMER_M
from geofence.types import event_id


def visit_id_for(device: str, source: str, key: str, arrived_t: float) -> str:
    """Beacon and Wi-Fi visits: one per stay near an emitter, named by where and when it began."""
    return event_id(device, f"{source}-visit", key, arrived_t)


# A visit's departure from its sightings: none while any is open, else the last one's end.
# A fence's sighting lasts, for this, only until the agent's next stop at another customer
# began, once the visit's own stop had ended by then: the stop moved next door (more than
# 35 m, geofence/stops.py) while the door's 50 m circle still held the agent. The stop is
# the better witness of where the agent was; the circle may hold both doors. (least()
# passes over a NULL: an open sighting that was cut ends then.)
FENCE_HELD_UNTIL = (
    "(SELECT min(o.started_at) FROM visits ov"
    " JOIN visit_sightings o ON o.tenant_id = ov.tenant_id AND o.visit_id = ov.id"
    " WHERE x.source = 'geofence' AND ov.tenant_id = v.tenant_id AND ov.agent_id = v.agent_id"
    "   AND ov.id <> v.id AND ov.retracted_at IS NULL AND ov.customer_id <> v.customer_id"
    "   AND ov.arrived_at >= x.started_at - interval '1 day'"
    "   AND ov.arrived_at < coalesce(x.ended_at, 'infinity')"
    "   AND o.source = 'stop' AND o.started_at > x.started_at"
    "   AND o.started_at < coalesce(x.ended_at, 'infinity')"
    "   AND EXISTS (SELECT 1 FROM visit_sightings y WHERE y.tenant_id = v.tenant_id"
    "               AND y.visit_id = v.id AND y.source = 'stop' AND y.ended_at <= o.started_at))"
)
DEPARTED_BY_SIGHTINGS = (
    "(SELECT CASE WHEN bool_or(e.t IS NULL) THEN NULL ELSE max(e.t) END"  # noqa: S608 - constants of this module
    " FROM visit_sightings x"
    " CROSS JOIN LATERAL (SELECT CASE"
    "   WHEN x.source <> 'geofence' OR v.customer_id IS NULL THEN x.ended_at"  # most: no search
    f"  ELSE least(x.ended_at, {FENCE_HELD_UNTIL}) END AS t) e"
    " WHERE x.tenant_id = v.tenant_id AND x.visit_id = v.id)"
)


def close_visits_sql(tenant_id: uuid.UUID, closes: Sequence[tuple[str, float]]) -> str:
    """The update that records the departure of visits a batch ended, as a simple query: its
    values are literals (each id parsed as a UUID, each time a float), so it is planned anew
    on every call with the table as it is then.

    The ingest keeps generic plans, and a connection's first batch that ends a visit made
    this one; on a new server the table is then nearly empty, and every index on it looks
    as good as the key. Prepared with parameters (joined to `unnest` of the batch's visits,
    or even for a single id), the kept plan then read every visit of the tenant by its tenant
    key, on every later batch that ended one: 3,700 pages and 2.8 ms a call with 9,600 visits
    in the benchmark, and more as the table grows (test_ingest_plans.py). Planning this
    afresh costs a tenth of a millisecond, a batch ends one or two visits.

    A visit with sightings ends when the last of them has (their latest end; open while any
    is); one recorded before sightings existed ends at the time given."""
    values = ", ".join(f"('{uuid.UUID(str(v))}'::uuid, '{float(t)!r}'::float8)" for v, t in closes)
    return (
        "UPDATE visits v SET updated_at = now(), departed_at = CASE"  # noqa: S608 - literals made here: ids parsed as UUIDs, times as floats
        " WHEN NOT EXISTS (SELECT 1 FROM visit_sightings x"
        "                  WHERE x.tenant_id = v.tenant_id AND x.visit_id = v.id)"
        f" THEN to_timestamp(u.t) ELSE {DEPARTED_BY_SIGHTINGS} END"
        f" FROM (VALUES {values}) AS u(id, t)"
        f" WHERE v.tenant_id = '{uuid.UUID(str(tenant_id))}'::uuid AND v.id = u.id"
    )


# The visit a new sighting joins: the agent's, at the same place (or, without a place, the
# same customer), open or ended within JOIN_WITHIN_S, begun no later than that after it. And
# where a sighting seen again (a replay) already belongs.
JOIN_WITHIN_S = 600.0


SIGHTINGS_FOUND = f"""
SELECT u.id, s.visit_id AS known, j.id AS joins
FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::float8[]) AS u(id, place_id, customer_id, t)
LEFT JOIN visit_sightings s ON s.tenant_id = $1 AND s.id = u.id
LEFT JOIN LATERAL (
    SELECT v.id FROM visits v
    WHERE s.id IS NULL AND $2::uuid IS NOT NULL
      AND (u.place_id IS NOT NULL OR u.customer_id IS NOT NULL)
      AND v.tenant_id = $1 AND v.agent_id = $2::uuid AND v.retracted_at IS NULL AND v.id <> u.id
      AND CASE WHEN u.place_id IS NOT NULL THEN v.place_id = u.place_id
               ELSE v.customer_id = u.customer_id END
      AND v.arrived_at <= to_timestamp(u.t + {JOIN_WITHIN_S})
      AND (v.departed_at IS NULL OR v.departed_at >= to_timestamp(u.t - {JOIN_WITHIN_S}))
    ORDER BY v.arrived_at DESC
    LIMIT 1
) j ON true
"""  # noqa: S608 - constants of this module


# One statement: the visits sightings make (with the sources that joined them in the same
# batch), the visits they join (reopened, with their sources), and the sightings.
SIGHTINGS_WRITE = """
WITH u AS (
    SELECT * FROM jsonb_to_recordset($4::jsonb) AS u(
        id uuid, visit_id uuid, source text, customer_id uuid, place_id uuid, fence_id uuid,
        t float8, lat float8, lon float8, confidence float8, attributed_by text,
        runners_up jsonb, new boolean, joined boolean, also text[])
), made AS (
    INSERT INTO visits (tenant_id, id, agent_id, device_id, source, customer_id, place_id,
                        fence_id, arrived_at, lat, lon, confidence, attributed_by, runners_up,
                        also_seen_by)
    SELECT $1, u.id, $2, $3, u.source, u.customer_id, u.place_id, u.fence_id,
           to_timestamp(u.t), u.lat, u.lon, u.confidence, u.attributed_by, u.runners_up,
           u.also
    FROM u WHERE u.new
    ON CONFLICT (tenant_id, id) DO UPDATE SET retracted_at = NULL,
        arrived_at = EXCLUDED.arrived_at
), joined AS (
    UPDATE visits v
    SET also_seen_by = ARRAY(SELECT DISTINCT x FROM unnest(v.also_seen_by || j.sources) x
                             WHERE x <> v.source ORDER BY x),
        departed_at = NULL, updated_at = now(), arrived_at = least(v.arrived_at, j.first)
    FROM (SELECT visit_id, array_agg(source) AS sources, to_timestamp(min(t)) AS first
          FROM u WHERE u.joined GROUP BY visit_id) j
    WHERE v.tenant_id = $1 AND v.id = j.visit_id
)
INSERT INTO visit_sightings (tenant_id, id, visit_id, source, started_at)
SELECT $1, u.id, u.visit_id, u.source, to_timestamp(u.t) FROM u
ON CONFLICT (tenant_id, id) DO UPDATE SET started_at = EXCLUDED.started_at
"""


# The sources a visit is seen by, from its sightings (and a manual check-in's, kept).
RESEEN = """
UPDATE visits v SET also_seen_by = ARRAY(
    SELECT DISTINCT x FROM (
        SELECT s.source AS x FROM visit_sightings s
        WHERE s.tenant_id = v.tenant_id AND s.visit_id = v.id
        UNION ALL SELECT 'manual' WHERE 'manual' = ANY(v.also_seen_by)) u
    WHERE x <> v.source ORDER BY x), updated_at = now()
WHERE v.tenant_id = $1 AND v.id = ANY($2::uuid[])
"""


def settle_visits_sql(tenant_id: uuid.UUID, visits: set[Any]) -> str:
    """Visits whose sightings have all ended end at the last of them; the others are open.
    A simple query with literal ids, planned on every call, as close_visits_sql says why."""
    ids = ", ".join(f"'{uuid.UUID(str(v))}'::uuid" for v in visits)
    return (
        f"UPDATE visits v SET updated_at = now(), departed_at = {DEPARTED_BY_SIGHTINGS}"  # noqa: S608 - literals made here: ids parsed as UUIDs
        f" WHERE v.tenant_id = '{uuid.UUID(str(tenant_id))}'::uuid AND v.id IN ({ids})"
        " AND EXISTS (SELECT 1 FROM visit_sightings s"
        "             WHERE s.tenant_id = v.tenant_id AND s.visit_id = v.id)"
    )


# One stay seen as two visits: at one customer, cut in two (a reflection long enough to exit
# the fence, or to end the stop) with at most JOIN_WITHIN_S between them, or overlapping, or
# with no fix of the phone between them (silent: exited at its last fix);
# or at customers next door to each other (a stop near customers without fences attributed to
# one, and the fence of a neighbour dwelling at the same time): visits of one agent at
# customers within NEXT_DOOR_M of each other that overlap for at least SAME_STAY_SHARE of
# the longer one. Sequential visits next door overlap little
# or not at all, even when one stop (GPS cannot split stays 20 m apart) spans both of them
# and the second one's fence: an hour's stop and a half hour's fence visit are two visits.
# An open visit lasts, for this, until the batch's last fix.
NEXT_DOOR_M = STOP_CUSTOMER_M
SAME_STAY_SHARE = 0.6


# A phone that stops reporting while it stays still indoors (Android's doze does) and comes
# back at the same customer, with no fix in between, never left: up to this long.
SILENT_STAY_S = 4 * 3600


SAME_STAY = f"""
WITH v AS (
    SELECT v.id, v.agent_id, v.device_id, v.customer_id, v.arrived_at, v.source,
           v.also_seen_by, v.attributed_by, coalesce(v.departed_at, to_timestamp($3)) AS until
    FROM visits v
    WHERE v.tenant_id = $1 AND v.id = ANY($2::uuid[]) AND v.retracted_at IS NULL
      AND v.place_id IS NULL AND v.customer_id IS NOT NULL
)
SELECT a.id AS a, b.id AS b,
       a.source AS a_source, a.also_seen_by AS a_also, a.attributed_by AS a_by,
       b.source AS b_source, b.also_seen_by AS b_also, b.attributed_by AS b_by,
       a.arrived_at AS a_arrived, b.arrived_at AS b_arrived
FROM v a
JOIN visits b ON b.tenant_id = $1 AND b.agent_id = a.agent_id AND b.id <> a.id
CROSS JOIN LATERAL (SELECT coalesce(b.departed_at, to_timestamp($3)) AS until) bu
WHERE b.retracted_at IS NULL AND b.place_id IS NULL AND b.customer_id IS NOT NULL
  AND b.arrived_at > a.arrived_at - interval '1 day'
  AND b.arrived_at < a.until + interval '{SILENT_STAY_S} seconds'
  AND a.arrived_at < bu.until + interval '{SILENT_STAY_S} seconds'
  AND CASE WHEN b.customer_id = a.customer_id THEN  -- fragments of one stay
           (b.arrived_at < a.until + interval '{JOIN_WITHIN_S} seconds'
            AND a.arrived_at < bu.until + interval '{JOIN_WITHIN_S} seconds')
           OR (b.device_id = a.device_id AND NOT EXISTS (
               SELECT 1 FROM pings p
               WHERE p.tenant_id = $1 AND p.device_id = a.device_id
                 AND p.fix_time > least(a.until, bu.until)
                 AND p.fix_time < greatest(a.arrived_at, b.arrived_at)))
      ELSE least(a.until, bu.until) - greatest(a.arrived_at, b.arrived_at)
               >= {SAME_STAY_SHARE} * greatest(a.until - a.arrived_at, bu.until - b.arrived_at)
           AND EXISTS (
               SELECT 1 FROM {customers()} ca, {customers()} cb
               WHERE ca.tenant_id = $1 AND ca.id = a.customer_id AND cb.tenant_id = $1
                 AND cb.id = b.customer_id AND ST_DWithin(ca.location, cb.location, {NEXT_DOOR_M}))
      END
"""  # noqa: S608 - constants of this module


# The visit `$3` takes in the visit `$2`: its sightings, its arrival if earlier, its customer
# among the runners-up, a check-in's source; `$2` is retracted (a retried check-in's client
# id still finds it).
MERGE_STAY = """
WITH moved AS (
    UPDATE visit_sightings SET visit_id = $3 WHERE tenant_id = $1 AND visit_id = $2
), gone AS (
    UPDATE visits SET retracted_at = now(), updated_at = now()
    WHERE tenant_id = $1 AND id = $2
    RETURNING arrived_at, customer_id, also_seen_by, source
)
UPDATE visits k SET
    arrived_at = least(k.arrived_at, g.arrived_at),
    runners_up = jsonb_build_array(jsonb_build_object('customer_id', g.customer_id, 'share', NULL))
        || coalesce((SELECT jsonb_agg(r) FROM jsonb_array_elements(k.runners_up) r
                     WHERE r->>'customer_id' <> g.customer_id::text), '[]'::jsonb),
    also_seen_by = ARRAY(SELECT DISTINCT x FROM unnest(k.also_seen_by || g.also_seen_by
                         || CASE WHEN g.source = 'manual' THEN ARRAY['manual'] ELSE '{}' END) x
                         WHERE x <> k.source ORDER BY x),
    updated_at = now()
FROM gone g
WHERE k.tenant_id = $1 AND k.id = $3
"""


def weighed(source: str, also: Sequence[str] | None, by: str | None) -> int:
    """Whose customer a stay seen twice keeps: a person's choice, then a stop's (where the
    stay was, among every customer near), then a check-in's, then a fence's."""
    seen = {source, *(also or [])}
    if by == "person":
        return 3
    if "stop" in seen or by in ("plan", "assigned", "nearest"):
        return 2
    return 1 if "manual" in seen else 0


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    """The UUID a string spells, or None (no value, or not a UUID: an engine's own key)."""
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def str_or_none(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


class Sightings:
    """The sightings half of the event writer (backend/tracking/records.py `EventWriter`):
    each source's sighting of a stay (its own visit id from the engine) is a row of
    visit_sightings. The first sighting at a place or customer makes the visit; a later one
    there, while that visit is open or within JOIN_WITHIN of its end, joins it; the visit
    ends with its last sighting. A few rows a batch, and only in batches that start or end a
    stay."""

    db: asyncpg.Connection
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    touched: set[Any]
    device_id: uuid.UUID

    async def _see(self, opens: list[tuple[Any, ...]], ends: dict[Any, float]) -> None:
        """Record sightings' starts (two round trips): each joins the visit of its stay (one
        already recorded, or one an earlier sighting of this batch makes), or makes one.
        `ends`: when sightings of this batch end, to tell an earlier one still going on (or
        ended within JOIN_WITHIN_S) from one long over."""
        tid = self.tenant_id
        opens = sorted(opens, key=lambda o: o[5])  # in time order: the first makes the visit
        found = await self.db.fetch(
            SIGHTINGS_FOUND,
            tid,
            self.user_id,
            [o[0] for o in opens],
            [o[3] for o in opens],
            [o[2] for o in opens],
            [o[5] for o in opens],
        )
        known = {r["id"]: r["known"] for r in found if r["known"] is not None}
        joins = {r["id"]: r["joins"] for r in found if r["joins"] is not None}
        made: dict[tuple[Any, Any], tuple[Any, float]] = {}  # (place, customer) -> (visit, t)
        rows: list[dict[str, Any]] = []
        also: dict[Any, set[str]] = {}
        for o in opens:
            sid, source, customer_id, place_id, fence_id, t = o[:6]
            key = (place_id, customer_id if place_id is None else None)
            earlier = made.get(key) if (place_id or customer_id) else None
            if sid in known:  # seen again by a replay: it stays where it was
                target = known[sid]
            elif sid in joins:
                target = joins[sid]
            elif earlier is not None and t - ends.get(earlier[0], t) <= JOIN_WITHIN_S:
                target = earlier[0]
                also.setdefault(target, set()).add(source)
            else:
                target = sid
                if place_id or customer_id:
                    made[key] = (sid, t)
            rows.append(
                {
                    "id": str(sid),
                    "visit_id": str(target),
                    "source": source,
                    "customer_id": str_or_none(customer_id),
                    "place_id": str_or_none(place_id),
                    "fence_id": str_or_none(fence_id),
                    "t": t,
                    "lat": o[6],
                    "lon": o[7],
                    "confidence": o[8],
                    "attributed_by": o[9],
                    "runners_up": o[10],
                    "new": target == sid,
                }
            )
        self.touched.update(uuid.UUID(r["visit_id"]) for r in rows)
        made_here = {r["id"] for r in rows if r["new"]}
        for r in rows:
            r["joined"] = r["visit_id"] != r["id"] and r["visit_id"] not in made_here
            r["also"] = sorted(also.get(uuid.UUID(r["id"]), set()) - {r["source"]})
        await self.db.execute(SIGHTINGS_WRITE, tid, self.user_id, self.device_id, dumps(rows))

    async def _close(self, closes: list[tuple[Any, float]]) -> None:
        """Sightings ended (two round trips): a visit ends with its last sighting; a visit
        recorded before sightings existed ends as it did."""
        rows = await self.db.fetch(
            """UPDATE visit_sightings s SET ended_at = to_timestamp(u.t)
               FROM unnest($2::uuid[], $3::float8[]) AS u(id, t)
               WHERE s.tenant_id = $1 AND s.id = u.id
               RETURNING s.id, s.visit_id""",
            self.tenant_id,
            [c[0] for c in closes],
            [c[1] for c in closes],
        )
        owner = {r["id"]: r["visit_id"] for r in rows}
        targets = [(owner.get(uuid_or_none(str(c[0])), c[0]), c[1]) for c in closes]
        self.touched.update(v for v, _ in targets)
        await self.db.execute(close_visits_sql(self.tenant_id, targets))

    async def _unsee(self, started: list[Any]) -> None:
        """A replay took back sightings' starts: a visit none of whose own sighting is left
        is retracted; one that keeps another source's sighting stays, without this one."""
        rows = await self.db.fetch(
            """DELETE FROM visit_sightings WHERE tenant_id = $1 AND id = ANY($2::uuid[])
               RETURNING id, visit_id""",
            self.tenant_id,
            started,
        )
        gone = {r["id"] for r in rows}
        legacy = [v for v in started if v not in gone]
        owners = {r["visit_id"] for r in rows}
        # Visits recorded before sightings are retracted as before; a visit whose own sighting
        # went and that has no other is retracted; one joined by other sources stays.
        await self.db.execute(
            """UPDATE visits v SET retracted_at = now(), updated_at = now()
               WHERE v.tenant_id = $1
                 AND (v.id = ANY($2::uuid[])
                      OR (v.id = ANY($3::uuid[]) AND NOT EXISTS (
                            SELECT 1 FROM visit_sightings s
                            WHERE s.tenant_id = v.tenant_id AND s.visit_id = v.id)))""",
            self.tenant_id,
            legacy,
            list(gone),
        )
        self.touched.update(legacy, gone, owners)
        if owners:
            await self.db.execute(RESEEN, self.tenant_id, list(owners))
            await self.db.execute(settle_visits_sql(self.tenant_id, owners))

    async def _reopen(self, ended: list[Any]) -> None:
        """A replay took back sightings' ends: they, and their visits, are open again."""
        rows = await self.db.fetch(
            """UPDATE visit_sightings SET ended_at = NULL
               WHERE tenant_id = $1 AND id = ANY($2::uuid[]) RETURNING id, visit_id""",
            self.tenant_id,
            ended,
        )
        visits = {r["visit_id"] for r in rows} | {
            v for v in ended if v not in {r["id"] for r in rows}
        }
        self.touched.update(visits)
        await self.db.execute(
            "UPDATE visits SET departed_at = NULL WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
            self.tenant_id,
            list(visits),
        )
