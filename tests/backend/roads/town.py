"""A generated town, written as an OpenStreetMap extract with osmium's writer.

Two banks of a river 200 m wide (y from -100 to +100 m) run west to east for 6 km. Each bank
has two streets along it (y = ±150 and ±450 m) joined by cross streets every 600 m. The only
bridges are at the two ends (x = ±3000 m), so the straight line across the water is 300 m
and the drive is over 6 km. On the north bank, the outer street is one-way eastbound between
x = -600 and x = +600 m. East of the town, an island in the river (y = 0, x from 3,300 to
6,900 m) has a grid of its own and no bridge. Every street is residential (OSRM's car
profile: 25 km/h).
"""

from __future__ import annotations

import math
from pathlib import Path

import osmium

LAT0, LON0 = 37.50, 127.00
M_PER_DEG = 111_195.0


def point(x_m: float, y_m: float) -> tuple[float, float]:
    """(lat, lon) of a point x_m east and y_m north of the town's origin."""
    return (
        LAT0 + y_m / M_PER_DEG,
        LON0 + x_m / (M_PER_DEG * math.cos(math.radians(LAT0))),
    )


def write_town(path: Path) -> Path:
    nodes: dict[tuple[int, int], int] = {}
    ways: list[tuple[list[int], dict[str, str]]] = []

    def node(x: int, y: int) -> int:
        return nodes.setdefault((x, y), len(nodes) + 1)

    def street(coords: list[tuple[int, int]], **tags: str) -> None:
        ways.append(([node(x, y) for x, y in coords], {"highway": "residential", **tags}))

    xs = list(range(-3000, 3001, 150))
    for y in (150, -150, -450):
        street([(x, y) for x in xs], name=f"Bank street {y}")
    # The north bank's outer street: two-way, except one-way eastbound from -600 to +600.
    street([(x, 450) for x in xs if x <= -600], name="North street west")
    street([(x, 450) for x in xs if -600 <= x <= 600], name="North street", oneway="yes")
    street([(x, 450) for x in xs if x >= 600], name="North street east")
    for x in range(-3000, 3001, 600):
        street([(x, 150), (x, 300), (x, 450)], name=f"North cross {x}")
        street([(x, -150), (x, -300), (x, -450)], name=f"South cross {x}")
    for x in (-3000, 3000):
        street([(x, 150), (x, 0), (x, -150)], name=f"Bridge {x}", bridge="yes")
    island = range(3300, 6901, 150)
    street([(x, 40) for x in island], name="Island north street")
    street([(x, -40) for x in island], name="Island south street")
    for x in range(3300, 6901, 300):
        street([(x, 40), (x, -40)], name=f"Island cross {x}")
    river = [node(x, y) for x, y in ((-3300, 0), (3200, 0))]

    writer = osmium.SimpleWriter(str(path))
    try:
        for (x, y), nid in sorted(nodes.items(), key=lambda item: item[1]):
            lat, lon = point(x, y)
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat)))
        for wid, (refs, tags) in enumerate(ways, 1):
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
        writer.add_way(
            osmium.osm.mutable.Way(id=len(ways) + 1, nodes=river, tags={"waterway": "river"})
        )
    finally:
        writer.close()
    return path
