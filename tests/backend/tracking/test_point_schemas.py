"""The hot path's point schema (`FastPoint`, msgspec) against the one that decides
(`PointIn`, pydantic): whatever the first accepts, the second accepts with the same values,
so a batch checked the fast way is stored exactly as if each point had been checked alone.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.tracking import points
from backend.tracking.points import parse_points
from backend.tracking.schemas import FastPoint, PointIn

FIELDS = [
    "client_id",
    "time",
    "age_s",
    "lat",
    "lon",
    "accuracy_m",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "battery",
    "provider",
    "mock",
]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -0.0, 90, 90.0000001, -180, 180, 1e-300, 2_592_000, 2_592_001]),
)


@st.composite
def times(draw: st.DrawFn) -> Any:
    dt = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.none()
        )
    )
    offset = draw(st.sampled_from([None, 0, 9 * 60, -330, 14 * 60]))
    if offset is not None:
        dt = dt.replace(tzinfo=timezone(timedelta(minutes=offset)))
    text = dt.isoformat()
    form = draw(st.sampled_from(["iso", "z", "space", "digits", "date", "epoch"]))
    if form == "z" and offset == 0:
        return text.replace("+00:00", "Z")
    if form == "space":
        return text.replace("T", " ")
    if form == "digits" and "." in text:
        head, _, rest = text.partition(".")
        frac = rest[:6]
        return f"{head}.{frac}{draw(st.text('0123456789', min_size=0, max_size=4))}{rest[6:]}"
    if form == "date":
        return text[:10]
    if form == "epoch":
        return draw(numbers)
    return text


values: dict[str, st.SearchStrategy[Any]] = {
    "client_id": st.one_of(
        st.uuids().map(str),
        st.uuids().map(lambda u: u.hex),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: str(u).upper()),
        st.text(max_size=5),
        st.integers(),
    ),
    "time": st.one_of(times(), st.none()),
    "age_s": st.one_of(numbers, st.none(), st.just("12")),
    "lat": st.one_of(numbers, st.just("37.5")),
    "lon": numbers,
    "accuracy_m": numbers,
    "speed_mps": st.one_of(numbers, st.none()),
    "heading_deg": st.one_of(numbers, st.none()),
    "altitude_m": st.one_of(numbers, st.none()),
    "battery": st.one_of(numbers, st.none(), st.booleans()),
    "provider": st.one_of(st.sampled_from(["gps", "fused", "GPS", "", "other"]), st.none()),
    "mock": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None])),
}


@st.composite
def items(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.text()))
    keys = draw(st.sets(st.sampled_from(FIELDS)))
    keys |= draw(st.sets(st.sampled_from(["client_id", "lat", "lon", "accuracy_m", "time"])))
    item = {k: draw(values[k]) for k in keys}
    if draw(st.integers(0, 20)) == 0:
        item["extra"] = 1
    return item


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


@settings(max_examples=3000, deadline=None)
@given(items())
def test_what_the_fast_schema_accepts_the_model_accepts_with_the_same_values(item: Any) -> None:
    checked = points._checked([item])
    if checked is None:
        return  # refused: the batch goes point by point through PointIn
    (fast,) = checked
    assert isinstance(fast, FastPoint)
    model = PointIn.model_validate(item)  # must not raise
    for name in FIELDS:
        assert _same(getattr(fast, name), getattr(model, name)), name


def _batch(n: int) -> list[dict[str, Any]]:
    t0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    for i in range(n):
        point: dict[str, Any] = {
            "client_id": str(uuid.uuid4()),
            "lat": 37.5 + i * 1e-4,
            "lon": 127.0,
            "accuracy_m": 5 + i % 7,
        }
        if i % 3:
            point["time"] = (t0 + timedelta(seconds=5 * i, microseconds=123)).isoformat()
        else:
            point["age_s"] = 30.5 - i * 0.1 if i < 300 else 0
        if i % 4 == 0:
            point.update(speed_mps=1.5, heading_deg=90, altitude_m=12.5, battery=0.5)
            point.update(provider="gps", mock=i % 8 == 0)
        out.append(point)
    out.append(dict(out[-1]))  # the same point twice in one batch
    return out


@pytest.mark.parametrize("size", [1, 57, 1000])
def test_a_batch_parses_the_same_either_way(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    raw = _batch(size)
    received = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert points._checked(raw) is not None  # the fast way takes it
    fast = parse_points(raw, received)
    monkeypatch.setattr(points, "_checked", lambda raw: None)
    slow = parse_points(raw, received)
    assert fast[1] == slow[1] and fast[2] == slow[2] == {}
    assert [g.fix for g in fast[0]] == [g.fix for g in slow[0]]
    assert fast[1][-1]["status"] == "duplicate"
    for f, s in zip(fast[0], slow[0], strict=True):
        for name in FIELDS:
            assert _same(getattr(f.point, name), getattr(s.point, name)), name


def test_one_bad_point_sends_the_batch_the_careful_way() -> None:
    raw = _batch(10)
    raw[4]["lat"] = 91
    raw[6] = {"client_id": str(uuid.uuid4()), "lat": 37.5, "lon": 127.0, "accuracy_m": 5}
    assert points._checked(raw) is None
    good, results, rejected = parse_points(raw, datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    assert set(rejected) == {4, 6}
    assert rejected[4]["field"] == "points.4.lat"
    assert "time or age_s" in (rejected[6]["reason"] or "")
    assert len(good) == 8 and results[-1]["status"] == "duplicate"
