"""Road networks: importing extracts, travel on them, and the fallbacks, on a generated town
served by a real osrm-routed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.config import Settings, routing_providers
from backend.roads.graphs import RoadsImportError, current, import_extract
from backend.roads.server import RoutedServer, _free_port
from backend.roads.services import RoadNetworks
from routing.roads import WALK_SPEED_MS, OsrmClient, RoadTravel
from routing.travel import GeoPoint, HaversineTravel, TravelMode
from tests.backend.roads.town import point

NOON = datetime(2026, 12, 2, 12, tzinfo=UTC)  # the car's hour factor is 1.0 at noon


def at(x_m: float, y_m: float) -> GeoPoint:
    return GeoPoint(*point(x_m, y_m))


def roads(server: RoutedServer) -> RoadTravel:
    return RoadTravel({TravelMode.CAR: OsrmClient(server.url)})


def seconds(travel: RoadTravel | HaversineTravel, points: list[GeoPoint]) -> list[list[int]]:
    return [list(r) for r in travel.matrix(points, TravelMode.CAR, NOON, NOON).seconds]


class TestImport:
    def test_the_same_file_is_not_built_twice(self, town_pbf: Path, roads_root: Path) -> None:
        first = import_extract(town_pbf, "car", root=roads_root, say=lambda _: None)
        again = import_extract(town_pbf, "car", root=roads_root, say=lambda _: None)
        assert again.reused and again.folder == first.folder
        assert current("car", roads_root) is not None

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (None, "no such file"),
            (b"", "the file is empty"),
            (b"\x00\x00\x00\x0dnot a pbf at all", "not a readable OpenStreetMap PBF"),
        ],
    )
    def test_a_bad_extract_names_the_file_and_the_old_graph_keeps_serving(
        self,
        town_graph: object,
        roads_root: Path,
        tmp_path: Path,
        content: bytes | None,
        reason: str,
    ) -> None:
        before = current("car", roads_root)
        assert before is not None
        bad = tmp_path / "seoul.osm.pbf"
        if content is not None:
            bad.write_bytes(content)
        with pytest.raises(RoadsImportError) as caught:
            import_extract(bad, "car", root=roads_root, say=lambda _: None)
        assert str(bad) in str(caught.value) and reason in str(caught.value)
        assert current("car", roads_root) == before
        assert not list((roads_root / "car").glob(".build-*"))


class TestTravel:
    def test_the_river_is_crossed_at_a_bridge(self, town_server: RoutedServer) -> None:
        north, south = at(0, 150), at(0, -150)
        road = seconds(roads(town_server), [north, south])
        line = seconds(HaversineTravel(), [north, south])
        # 300 m as the crow flies; 6.3 km by the bridge at either end, at 25 km/h.
        assert road[0][1] > 10 * 60
        assert line[0][1] < 4 * 60

    def test_one_way_streets_are_honoured(self, town_server: RoutedServer) -> None:
        west, east = at(-450, 450), at(450, 450)
        s = seconds(roads(town_server), [west, east])
        # Eastbound on the one-way street: 900 m. Back west: down to the bank street, along
        # it and up again, at least 1,500 m.
        assert s[1][0] > 1.5 * s[0][1]

    def test_a_point_off_the_network_snaps_and_walks(self, town_server: RoutedServer) -> None:
        on_road, off_road, there = at(1200, 450), at(1200, 650), at(2400, 450)
        travel = roads(town_server)
        m = travel.matrix([on_road, off_road, there], TravelMode.CAR, NOON, NOON)
        walk_s = m.seconds[1][2] - m.seconds[0][2]
        assert m.source == "roads" and m.estimated == ()
        assert abs(walk_s - 200 / WALK_SPEED_MS) <= 3
        assert m.metres[1][2] - m.metres[0][2] == pytest.approx(200, abs=3)

    def test_places_off_the_map_fall_back_and_say_so(self, town_server: RoutedServer) -> None:
        far = at(0, 20_000)  # 20 km north of the town
        points = [at(0, 150), at(600, 150), far]
        m = roads(town_server).matrix(points, TravelMode.CAR, NOON, NOON)
        line = HaversineTravel().matrix(points, TravelMode.CAR, NOON, NOON)
        assert m.source == "mixed" and m.estimated == (2,)
        assert "more than 500 m from any road" in (m.note or "")
        assert m.seconds[0][2] == line.seconds[0][2] and m.seconds[2][1] == line.seconds[2][1]

    def test_places_no_road_connects_are_estimated(self, town_server: RoutedServer) -> None:
        town, island = at(2700, 150), at(4500, 0)
        m = roads(town_server).matrix([town, island, at(5100, 0)], TravelMode.CAR, NOON, NOON)
        line = HaversineTravel().matrix([town, island], TravelMode.CAR, NOON, NOON)
        assert m.source == "mixed" and "not connected by road" in (m.note or "")
        assert m.seconds[0][1] == line.seconds[0][1] and m.seconds[1][0] == line.seconds[1][0]
        assert m.seconds[1][2] < 4 * 60  # along the island's own street, by road

    def test_a_server_that_is_down_falls_back_to_the_straight_line(self) -> None:
        down = RoadTravel({TravelMode.CAR: OsrmClient(f"http://127.0.0.1:{_free_port()}")})
        points = [at(0, 150), at(0, -150)]
        m = down.matrix(points, TravelMode.CAR, NOON, NOON)
        assert m.source == "straight_line" and "routing unavailable" in (m.note or "")
        assert m.seconds == HaversineTravel().matrix(points, TravelMode.CAR, NOON, NOON).seconds
        assert down.route_line(points, TravelMode.CAR).source == "straight_line"

    def test_the_route_line_follows_the_streets(self, town_server: RoutedServer) -> None:
        line = roads(town_server).route_line([at(0, 150), at(0, -150)], TravelMode.CAR)
        assert line.source == "roads"
        assert max(abs(p.lon - line.points[0].lon) for p in line.points) > 0.03  # a bridge


class TestProviders:
    def test_named_providers_are_read_from_the_environment(self) -> None:
        assert routing_providers("kr=http://osrm-kr:5000, jp=https://osrm.example/jp") == {
            "kr": "http://osrm-kr:5000",
            "jp": "https://osrm.example/jp",
        }
        for bad in ("kr", "KR=http://x", "kr=ftp://x", "kr="):
            with pytest.raises(ValueError, match="FIELDSENSE_ROUTING_PROVIDERS"):
                routing_providers(bad)

    def test_the_external_server_and_the_embedded_one_agree(
        self,
        town_server: RoutedServer,
        town_graph: object,
        roads_root: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        points = [at(x, y) for x in (-2400, -300, 900, 2700) for y in (300, -300, 450)]
        external, embedded = RoadNetworks(), RoadNetworks()
        external.start(Settings(database_url="", secret="", routing_url=town_server.url))
        monkeypatch.setenv("FIELDSENSE_ROADS_DIR", str(roads_root))
        embedded.start(Settings(database_url="", secret=""))
        try:
            assert "roads: car at " + town_server.url == external.described
            assert embedded.described.startswith("roads: car at http://127.0.0.1:")
            assert embedded.described != external.described  # its own osrm-routed
            a = external.travel().matrix(points, TravelMode.CAR, NOON, NOON)
            b = embedded.travel().matrix(points, TravelMode.CAR, NOON, NOON)
            assert a.source == b.source == "roads"
            assert a == b
        finally:
            embedded.stop()
            external.stop()
        assert isinstance(embedded.travel(), HaversineTravel)

    def test_no_road_data_is_the_straight_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FIELDSENSE_ROADS_DIR", str(tmp_path))
        networks = RoadNetworks()
        networks.start(Settings(database_url="", secret=""))
        assert isinstance(networks.travel(), HaversineTravel)
        assert networks.described.startswith("straight line")
