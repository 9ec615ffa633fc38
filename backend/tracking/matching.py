"""Fences for a batch of points (docs/ingest.md, "Hot path"): each point's signed distance to
every fence near enough to change its state, one index probe per stretch of the track, and
the fences to watch from the newest point, in one round trip."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from backend.geofences.queries import geofences
from backend.tracking.schemas import FenceToWatch
from geofence.device import Near
from geofence.types import FenceRule, Fix

WATCH_RADIUS_M = 5_000.0


WATCH_LIMIT = 20


# The nearest fences (20, within 5 km, dropped afterwards) for the phone's OS region
# monitoring: a plain nearest-neighbour scan of the GiST index (tenant equality, then `<->`).
# A circle is described from its stored centre and radius (measuring its 33-vertex polygon cost
# 30 microseconds a fence). Arrays in nearest-first order.
# The LIMIT is written into the statement: the ingest keeps generic plans, and with a LIMIT
# parameter the planner guesses a tenth of the table is wanted, costs the scan with every
# fence's distance and centre computed, and sorts the whole tenant instead (27 to 40 ms with
# 10,000 fences, against 0.3: tests/backend/tracking/test_ingest_plans.py). `wanted` is a
# boolean the match passes to skip the scan; false, it is not made at all.
_WATCH = """
SELECT array_agg(id::text ORDER BY knn, id) AS wid, array_agg(name ORDER BY knn, id) AS wname,
       array_agg(lat ORDER BY knn, id) AS wlat, array_agg(lon ORDER BY knn, id) AS wlon,
       array_agg(radius_m ORDER BY knn, id) AS wradius, array_agg(d ORDER BY knn, id) AS wd
FROM (
    SELECT g.id, g.name, g.geom <-> h.p AS knn,
           CASE WHEN g.shape = 'circle' THEN ST_Y(g.center::geometry)
                ELSE ST_Y(ST_Centroid(g.geom)) END AS lat,
           CASE WHEN g.shape = 'circle' THEN ST_X(g.center::geometry)
                ELSE ST_X(ST_Centroid(g.geom)) END AS lon,
           CASE WHEN g.shape = 'circle' THEN g.radius_m
                ELSE ST_MaxDistance(g.geom, ST_Centroid(g.geom)) * 111320.0 END AS radius_m,
           CASE WHEN g.shape = 'circle'
                THEN greatest(0, ST_Distance(g.center, h.p::geography, false) - g.radius_m)
                ELSE ST_Distance(g.geom::geography, h.p::geography, false) END AS d
    FROM {fences} g, (SELECT ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326) AS p) h
    WHERE g.tenant_id = {tenant} AND {wanted}
    ORDER BY g.geom <-> h.p
    LIMIT {limit}
) w
"""


WATCH = _WATCH.format(
    fences=geofences(), tenant="$1", lat="$2", lon="$3", wanted="true", limit=WATCH_LIMIT
)


# Signed distances from every point to every fence close enough to matter: the ones it is
# inside, in the exit buffer of, or within its accuracy of. Anything farther is "outside by
# more than the threshold" to the engine whatever the exact figure, so a fence missing from a
# point's answer is the same to it as the distance. One index probe per stretch of the track
# (migration 0014), not per point; and the answer never depends on where the phone cut its
# batches. The answer is one row of arrays (a row per pair cost three times as much to
# decode): per pair the point, the fence (an index into the fence arrays) and the distance;
# per fence its id and rule, and the place and customer its events are recorded with (so
# the event writer need not look them up again). The watch list comes in the same round trip.
MATCH_AND_WATCH = f"""
WITH m AS MATERIALIZED (
    SELECT i, id, dwell_s, exit_buffer_m, d, hold FROM fieldsense_fence_near($1, $2, $3, $4)
), f AS MATERIALIZED (
    SELECT x.id, x.dwell_s, x.exit_buffer_m, x.hold, g.place_id, g.customer_id,
           (row_number() OVER () - 1)::int AS k
    FROM (SELECT DISTINCT id, dwell_s, exit_buffer_m, hold FROM m) x
    -- One key lookup per fence matched (LIMIT keeps the planner from joining the tenant's
    -- whole table instead: it cannot know the match brings a handful of fences).
    LEFT JOIN LATERAL (
        SELECT place_id, customer_id FROM {geofences()} g
        WHERE tenant_id = $5 AND id = x.id LIMIT 1
    ) g ON true
)
SELECT p.*, q.*, r.* FROM
    (SELECT array_agg(m.i) AS pi, array_agg(f.k) AS pk, array_agg(m.d) AS pd
     FROM m JOIN f ON f.id = m.id) p,
    (SELECT array_agg(id::text ORDER BY k) AS fid, array_agg(dwell_s ORDER BY k) AS dwell,
            array_agg(exit_buffer_m ORDER BY k) AS buffer, array_agg(hold ORDER BY k) AS hold,
            array_agg(place_id ORDER BY k) AS fplace, array_agg(customer_id ORDER BY k) AS fcust
     FROM f) q,
    ({
    _WATCH.format(
        fences=geofences(), tenant="$5", lat="$6", lon="$7", wanted="$8", limit=WATCH_LIMIT
    ).strip()
}) r
"""  # noqa: S608 - constants of this module and the geofences domain's relation


# A stretch is cut where the track leaves a box this wide (degrees; about 330 m north-south):
# a phone walking or waiting stays in one, and one index probe serves all its points; a car
# makes several, so no probe returns fences far from the points it serves.
STRETCH_DEG = 0.003


def stretches(fixes: list[Fix]) -> list[int]:
    """The stretch of each point: consecutive points within a STRETCH_DEG box share one."""
    out: list[int] = []
    s = -1
    lat0 = lat1 = lon0 = lon1 = 0.0
    for f in fixes:
        lat, lon = f.lat, f.lon
        # The stretch's box grown to this point (comparisons, not min/max calls: per point).
        a0 = lat if lat < lat0 else lat0
        a1 = lat if lat > lat1 else lat1
        o0 = lon if lon < lon0 else lon0
        o1 = lon if lon > lon1 else lon1
        if s < 0 or a1 - a0 > STRETCH_DEG or o1 - o0 > STRETCH_DEG:
            s += 1
            lat0 = lat1 = lat
            lon0 = lon1 = lon
        else:
            lat0, lat1, lon0, lon1 = a0, a1, o0, o1
        out.append(s)
    return out


def _watch_list(row: asyncpg.Record) -> list[FenceToWatch]:
    if row["wid"] is None:
        return []
    return [
        {
            "id": fid,
            "name": name,
            "lat": lat,
            "lon": lon,
            "radius_m": math.ceil(float(radius)),
            "distance_m": round(float(d), 1),
        }
        for fid, name, lat, lon, radius, d in zip(
            row["wid"],
            row["wname"],
            row["wlat"],
            row["wlon"],
            row["wradius"],
            row["wd"],
            strict=True,
        )
        if d <= WATCH_RADIUS_M
    ]


async def watch_list(db: asyncpg.Connection, tenant_id: uuid.UUID, at: Fix) -> list[FenceToWatch]:
    """The fences the phone should watch from where it is."""
    return _watch_list(await db.fetchrow(WATCH, tenant_id, at.lat, at.lon))


@dataclass(slots=True)
class Matched:
    near: list[Near]  # per point: fence id -> (signed distance m, rule)
    watch: list[FenceToWatch] | None  # None when not asked for
    # The fences matched: id -> (place id, customer id), for the events about them.
    fences: dict[uuid.UUID, tuple[Any, Any]] = field(default_factory=dict)


async def match_fences(
    db: asyncpg.Connection,
    tenant_id: uuid.UUID,
    fixes: list[Fix],
    max_accuracy_m: float,
    watch_from: Fix | None = None,
) -> Matched:
    """Signed distances (m) from every point to every fence of the tenant (the transaction's)
    near enough to matter, in one query; with `watch_from` (where the phone is), the fences
    it should watch, in the same round trip. A point less accurate than `max_accuracy_m`
    never reaches presence (the filters keep it out), so its reach is capped there: one wild
    fix does not widen the probe."""
    near: list[Near] = [{} for _ in fixes]
    if not fixes:
        watch = await watch_list(db, tenant_id, watch_from) if watch_from else None
        return Matched(near, watch)
    # Not asked for a watch list: `wanted` false, and the nearest-neighbour scan is not made.
    at = watch_from if watch_from is not None else fixes[-1]
    row = await db.fetchrow(
        MATCH_AND_WATCH,
        [f.lat for f in fixes],
        [f.lon for f in fixes],
        [a if (a := f.accuracy_m) < max_accuracy_m else max_accuracy_m for f in fixes],
        stretches(fixes),
        tenant_id,
        at.lat,
        at.lon,
        watch_from is not None,
    )
    if row["pi"] is not None:
        rules = [
            (fid, FenceRule(fid, float(dwell_s), float(buffer), hold))
            for fid, dwell_s, buffer, hold in zip(
                row["fid"], row["dwell"], row["buffer"], row["hold"], strict=True
            )
        ]
        for i, k, d in zip(row["pi"], row["pk"], row["pd"], strict=True):
            fid, rule = rules[k]
            near[i][fid] = (d, rule)
        fences = {
            uuid.UUID(fid): (place, customer)
            for fid, place, customer in zip(row["fid"], row["fplace"], row["fcust"], strict=True)
        }
    else:
        fences = {}
    return Matched(near, _watch_list(row) if watch_from else None, fences)
