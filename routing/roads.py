"""Travel on a road network: an OSRM server behind the ``TravelTimes`` protocol.

OSRM answers free-flow driving (or walking) times and distances between points snapped to the
nearest usable road. ``RoadTravel`` adds what a trip costs on top of that, the same way the
straight-line estimate does: the hour-of-day speed factor of the mode, the mode's per-trip
overhead (parking), and the walk between each point and its snapped position on the road. Where
the network cannot answer (no graph for the mode, a point farther than ``max_snap_m`` from any
road, two points in unconnected parts of the map, the server down) the trip falls back to the
straight-line estimate, and the matrix says so (``TravelMatrix.source`` and ``.estimated``).

The client speaks OSRM's HTTP API (``/table``, ``/route``, ``/nearest``) with the standard
library only: this module stays a pure engine, whether the server is the one fieldsense starts
(``backend.roads``) or one that a large user runs (``FIELDSENSE_ROUTING_URL``).
"""

from __future__ import annotations

import http.client
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import numpy as np

from routing.travel import (
    DEFAULT_PROFILES,
    GeoPoint,
    HaversineTravel,
    TravelMatrix,
    TravelMode,
    _haversine,
    _radians,
)

WALK_SPEED_MS = DEFAULT_PROFILES[TravelMode.WALK].speed_kmh / 3.6
# OSRM's profile names are free-form in its URL; the server answers whatever graph it holds.
OSRM_PROFILE = {TravelMode.CAR: "driving", TravelMode.WALK: "foot"}


class RoutingUnavailable(RuntimeError):
    """The routing server could not answer (down, timed out, or an error response)."""


@dataclass(frozen=True, slots=True)
class Table:
    """Free-flow seconds and metres between snapped points (NaN where no road connects
    them), and how far each point is from where it was snapped."""

    seconds: np.ndarray
    metres: np.ndarray
    snap_m: list[float]


@dataclass(frozen=True, slots=True)
class OsrmClient:
    """One OSRM server (``osrm-routed``) holding one graph."""

    base_url: str
    profile: str = "driving"
    timeout_s: float = 10.0

    def _get(self, path: str) -> dict[str, Any]:
        url = urlsplit(self.base_url)
        if url.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                url.netloc, timeout=self.timeout_s
            )
        else:
            conn = http.client.HTTPConnection(url.netloc, timeout=self.timeout_s)
        try:
            conn.request("GET", url.path.rstrip("/") + path)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RoutingUnavailable(f"{self.base_url}: {exc}") from exc
        finally:
            conn.close()
        try:
            data: dict[str, Any] = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise RoutingUnavailable(f"{self.base_url}: HTTP {response.status}, not JSON") from exc
        if response.status != 200 or data.get("code") != "Ok":
            raise RoutingUnavailable(
                f"{self.base_url}: HTTP {response.status} {data.get('code')}: "
                f"{data.get('message', '')}"
            )
        return data

    @staticmethod
    def _coords(points: Sequence[GeoPoint]) -> str:
        return ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)

    def table(
        self,
        points: Sequence[GeoPoint],
        sources: Sequence[int] | None = None,
        destinations: Sequence[int] | None = None,
    ) -> Table:
        """Every source to every destination (indices into ``points``; all when None)."""
        # With a fallback speed OSRM answers every cell (a number array, no nulls to sort
        # out in Python) and lists the ones no road connects; those become NaN here.
        query = "annotations=duration,distance&generate_hints=false&fallback_speed=1"
        if sources is not None:
            query += "&sources=" + ";".join(map(str, sources))
        if destinations is not None:
            query += "&destinations=" + ";".join(map(str, destinations))
        data = self._get(f"/table/v1/{self.profile}/{self._coords(points)}?{query}")
        snap = [0.0] * len(points)
        for index, waypoint in zip(
            sources if sources is not None else range(len(points)), data["sources"], strict=True
        ):
            snap[index] = float(waypoint.get("distance") or 0.0)
        for index, waypoint in zip(
            destinations if destinations is not None else range(len(points)),
            data["destinations"],
            strict=True,
        ):
            snap[index] = float(waypoint.get("distance") or 0.0)
        seconds = np.asarray(data["durations"], dtype=float)
        metres = np.asarray(data["distances"], dtype=float)
        for row, col in data.get("fallback_speed_cells") or ():
            seconds[row, col] = metres[row, col] = math.nan
        return Table(seconds, metres, snap)

    def route(self, points: Sequence[GeoPoint]) -> tuple[list[GeoPoint], float, float]:
        """The road route through ``points`` in order: its line, seconds and metres."""
        data = self._get(
            f"/route/v1/{self.profile}/{self._coords(points)}"
            "?overview=full&geometries=geojson&generate_hints=false&continue_straight=false"
        )
        best = data["routes"][0]
        line = [GeoPoint(lat, lon) for lon, lat in best["geometry"]["coordinates"]]
        return line, float(best["duration"]), float(best["distance"])

    def nearest(self, point: GeoPoint) -> tuple[GeoPoint, float]:
        """The nearest usable road position and its distance in metres."""
        data = self._get(f"/nearest/v1/{self.profile}/{self._coords([point])}?number=1")
        waypoint = data["waypoints"][0]
        lon, lat = waypoint["location"]
        return GeoPoint(lat, lon), float(waypoint["distance"])


@dataclass(frozen=True, slots=True)
class RouteLine:
    """A route's line and where it came from: ``roads``, or ``straight_line`` with a reason."""

    points: tuple[GeoPoint, ...]
    source: str
    note: str | None = None


@dataclass(frozen=True)
class RoadTravel:
    """``TravelTimes`` on road networks, one OSRM graph per mode, with the straight-line
    estimate for whatever the networks cannot answer."""

    engines: Mapping[TravelMode, OsrmClient]
    fallback: HaversineTravel = field(default_factory=HaversineTravel)
    max_snap_m: float = 500.0

    def _adjust(
        self, drive: np.ndarray, mode: TravelMode, start: datetime, end: datetime
    ) -> np.ndarray:
        """Free-flow seconds → the mode's seconds at the trip window's hours, plus overhead."""
        profile = self.fallback.profiles[mode]
        factor = self.fallback.speed_factor(mode, start, end)
        return np.ceil(drive / factor) + profile.overhead_s

    def _road(
        self,
        points: Sequence[GeoPoint],
        mode: TravelMode,
        start: datetime,
        end: datetime,
        sources: Sequence[int],
        destinations: Sequence[int],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str | None]:
        """Seconds and metres for every source x destination, a mask of estimated trips (True
        where the straight line answered), the points the network does not reach (a mask over
        ``points``), and the reason when any trip was estimated."""
        lat, lon = _radians(points)
        src, dst = np.asarray(sources, dtype=np.int64), np.asarray(destinations, dtype=np.int64)
        straight = _haversine(lat[src, None], lon[src, None], lat[None, dst], lon[None, dst])
        est_s, est_m = self.fallback._trips(straight, mode, start, end)
        shape = straight.shape
        engine = self.engines.get(mode)
        if engine is None:
            missing = f"no road network for {mode.value}: straight-line estimate"
            everywhere = np.ones(len(points), dtype=bool)
            return est_s, est_m, np.ones(shape, dtype=bool), everywhere, missing
        try:
            table = self._table(engine, points, sources, destinations)
        except RoutingUnavailable as exc:
            everywhere = np.ones(len(points), dtype=bool)
            unavailable = f"routing unavailable ({exc})"
            return est_s, est_m, np.ones(shape, dtype=bool), everywhere, unavailable
        drive = table.seconds.reshape(shape)
        length = table.metres.reshape(shape)
        snap = np.asarray(table.snap_m, dtype=float)
        off_map = snap > self.max_snap_m
        walk_m = snap[src, None] + snap[None, dst]
        seconds = self._adjust(drive, mode, start, end) + np.ceil(walk_m / WALK_SPEED_MS)
        metres = length + walk_m
        # Next door or the same place: walked, as the straight-line estimate has it; a trip the
        # network cannot make (a point off the map, unconnected parts) is estimated.
        near = straight < 50
        estimated = off_map[src, None] | off_map[None, dst] | np.isnan(drive)
        use = near | estimated
        seconds = np.where(use, est_s, seconds)
        metres = np.where(use, est_m, metres)
        note: str | None = None
        if estimated.any():
            far = sorted({int(i) for i in np.flatnonzero(off_map)})
            note = (
                f"{len(far)} of {len(points)} places more than {self.max_snap_m:.0f} m from "
                "any road on the map: straight-line estimate for their trips"
                if far
                else "some places are not connected by road on the map: straight-line estimate"
            )
        return seconds, metres, estimated & ~near, off_map, note

    @staticmethod
    def _table(
        engine: OsrmClient,
        points: Sequence[GeoPoint],
        sources: Sequence[int],
        destinations: Sequence[int],
    ) -> Table:
        everything = len(sources) == len(points) and len(destinations) == len(points)
        if everything and list(sources) == list(range(len(points))) == list(destinations):
            return engine.table(points)
        return engine.table(points, sources, destinations)

    def matrix(
        self, points: Sequence[GeoPoint], mode: TravelMode, start: datetime, end: datetime
    ) -> TravelMatrix:
        everyone = range(len(points))
        seconds, metres, estimated, off_map, note = self._road(
            points, mode, start, end, everyone, everyone
        )
        np.fill_diagonal(seconds, 0)
        np.fill_diagonal(metres, 0)
        np.fill_diagonal(estimated, False)
        if off_map.all() or estimated.sum() >= len(points) * (len(points) - 1) > 0:
            source = "straight_line"
        elif not estimated.any():
            source = "roads"
        else:
            source = "mixed"
        return TravelMatrix(
            seconds=tuple(map(tuple, seconds.astype(np.int64).tolist())),
            metres=tuple(map(tuple, np.rint(metres).astype(np.int64).tolist())),
            source=source,
            estimated=tuple(int(i) for i in np.flatnonzero(off_map)),
            note=note,
        )

    def legs(
        self,
        origins: Sequence[GeoPoint],
        destinations: Sequence[GeoPoint],
        mode: TravelMode,
        start: datetime,
        end: datetime,
    ) -> list[int]:
        if not origins:
            return []
        points = list(origins) + list(destinations)
        n = len(origins)
        seconds, _, _, _, _ = self._road(
            points, mode, start, end, range(n), range(n, n + len(destinations))
        )
        result: list[int] = seconds[np.arange(n), np.arange(n)].astype(np.int64).tolist()
        return result

    def seconds_from(
        self,
        origins: Sequence[GeoPoint],
        lat: np.ndarray,
        lon: np.ndarray,
        mode: TravelMode,
        start: datetime,
        end: datetime,
    ) -> np.ndarray:
        """Seconds from each origin to many places, one row per origin (``legs`` for many)."""
        places = [GeoPoint(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]
        if not places:
            return np.zeros((len(origins), 0), dtype=np.int64)
        n = len(origins)
        seconds, _, _, _, _ = self._road(
            list(origins) + places, mode, start, end, range(n), range(n, n + len(places))
        )
        return seconds.astype(np.int64)

    def reach_m(self, mode: TravelMode, seconds: float) -> float:
        """A straight-line bound on how far a trip of ``seconds`` can go on the network: at
        130 km/h as the crow flies, so that a pre-filter by it never loses a place the roads
        reach."""
        return max(0.0, seconds) * 130 / 3.6 + 50.0

    def route_line(self, points: Sequence[GeoPoint], mode: TravelMode) -> RouteLine:
        """The line along the streets through ``points`` in order (straight segments where the
        network cannot answer, with the reason)."""
        engine = self.engines.get(mode)
        if engine is None or len(points) < 2:
            return RouteLine(tuple(points), "straight_line", f"no road network for {mode.value}")
        try:
            line, _, _ = engine.route(points)
        except RoutingUnavailable as exc:
            return RouteLine(tuple(points), "straight_line", f"routing unavailable ({exc})")
        return RouteLine(tuple(line), "roads")
