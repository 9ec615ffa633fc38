"""Query parameter helpers shared by list endpoints."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from backend.errors import Invalid


def near_filter(
    lat: float | None, lon: float | None, within_m: float | None
) -> tuple[float, float, float] | None:
    """`near_lat`, `near_lon` and `within_m` come together or not at all."""
    given = {"near_lat": lat, "near_lon": lon, "within_m": within_m}
    if all(v is None for v in given.values()):
        return None
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise Invalid("near_lat, near_lon and within_m go together", field=missing[0])
    assert lat is not None and lon is not None and within_m is not None
    return lat, lon, within_m


# Query parameter types shared by list endpoints (explicit markers, as Litestar 3 requires).
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="page size")]
Cursor = Annotated[str | None, QueryParameter(description="next_cursor of the previous page")]
NearLat = Annotated[float | None, QueryParameter(ge=-90, le=90)]
NearLon = Annotated[float | None, QueryParameter(ge=-180, le=180)]
WithinM = Annotated[float | None, QueryParameter(gt=0, le=100_000, description="metres")]
Search = Annotated[str | None, QueryParameter(description="name contains (case-insensitive)")]
