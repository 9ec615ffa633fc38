"""The generated town's routing graph, built with OSRM's programs, and a server for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.roads import programs
from backend.roads.graphs import Graph, import_extract
from backend.roads.server import RoutedServer
from tests.backend.roads.town import write_town


@pytest.fixture(scope="session")
def roads_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roads")


@pytest.fixture(scope="session")
def town_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_town(tmp_path_factory.mktemp("town") / "town.osm.pbf")


@pytest.fixture(scope="session")
def town_graph(town_pbf: Path, roads_root: Path) -> Graph:
    programs.install()  # a no-op once ./dev installed them
    return import_extract(town_pbf, "car", root=roads_root, say=lambda _: None)


@pytest.fixture(scope="session")
def town_server(town_graph: Graph) -> Iterator[RoutedServer]:
    with RoutedServer(town_graph) as server:
        yield server
