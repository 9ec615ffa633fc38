"""The process's travel provider: roads where a network is configured, the straight line else.

At start the API (or a benchmark, or a test) calls ``networks.start(settings)``: an OSRM
server named by ``FIELDSENSE_ROUTING_URL`` (and ``FIELDSENSE_ROUTING_FOOT_URL``) is used as it
is; otherwise the graphs that ``fieldsense roads import`` made current under ``.data/roads``
are served by ``osrm-routed`` processes that this process starts and stops. Everything that
travels asks ``networks.travel()``.
"""

from __future__ import annotations

import logging
import threading

from backend.config import Settings
from backend.roads import graphs
from backend.roads.programs import EngineMissing
from backend.roads.server import RoutedServer
from routing.roads import OsrmClient, RoadTravel, RouteLine
from routing.travel import GeoPoint, HaversineTravel, TravelMode, TravelTimes

log = logging.getLogger(__name__)

MODES = {"car": TravelMode.CAR, "foot": TravelMode.WALK}


class RoadNetworks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: list[RoutedServer] = []
        self._travel: TravelTimes = HaversineTravel()
        self._named: dict[str, RoadTravel] = {}
        self.described = "straight line (no road network configured)"

    def start(self, settings: Settings) -> None:
        with self._lock:
            self._stop()
            engines: dict[TravelMode, OsrmClient] = {}
            if settings.routing_url:
                engines[TravelMode.CAR] = OsrmClient(settings.routing_url, "driving")
            if settings.routing_foot_url:
                engines[TravelMode.WALK] = OsrmClient(settings.routing_foot_url, "foot")
            if not engines and settings.roads:
                for name, mode in MODES.items():
                    graph = graphs.current(name)
                    if graph is None:
                        continue
                    try:
                        server = RoutedServer(graph).start()
                    except (EngineMissing, RuntimeError, OSError) as exc:
                        log.error("roads: cannot serve %s from %s: %s", name, graph.folder, exc)
                        continue
                    self._servers.append(server)
                    engines[mode] = OsrmClient(server.url, "driving" if name == "car" else "foot")
            self._named = {
                name: RoadTravel({TravelMode.CAR: OsrmClient(url, "driving")})
                for name, url in settings.routing_providers.items()
            }
            if engines:
                self._travel = RoadTravel(engines)
                self.described = "roads: " + ", ".join(
                    f"{mode.value} at {engine.base_url}" for mode, engine in engines.items()
                )
            else:
                self._travel = HaversineTravel()
                self.described = "straight line (no road network configured)"
            log.info("travel: %s", self.described)

    def use(self, travel: TravelTimes, described: str) -> None:
        """Serve another provider (benchmarks and tests that run their own servers)."""
        with self._lock:
            self._stop()
            self._travel = travel
            self.described = described

    def _stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []

    def stop(self) -> None:
        with self._lock:
            self._stop()
            self._travel = HaversineTravel()
            self._named = {}

    def names(self) -> list[str]:
        """The named providers a tenant may choose (`travel_provider`)."""
        return sorted(self._named)

    def travel(self, provider: str | None = None) -> TravelTimes:
        """The tenant's named provider when it has one configured, else the default."""
        if provider and provider in self._named:
            return self._named[provider]
        return self._travel


def route_line(travel: TravelTimes, points: list[GeoPoint], mode: TravelMode) -> RouteLine:
    """The line along the streets when ``travel`` is on roads, else straight segments."""
    if isinstance(travel, RoadTravel):
        return travel.route_line(points, mode)
    return RouteLine(tuple(points), "straight_line", "no road network configured")


networks = RoadNetworks()
