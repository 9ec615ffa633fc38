"""Beacon and Wi-Fi presence from scans: smoothing, hysteresis, the quiet period, silence."""

from __future__ import annotations

from geofence.proximity import BEACON, WIFI, Proximity
from geofence.types import Kind


def kinds(events: list) -> list[tuple[Kind, str, float]]:  # type: ignore[type-arg]
    return [(e.kind, e.subject, e.t) for e in events]


def test_a_strong_beacon_enters_and_a_quiet_one_exits_at_its_last_sighting() -> None:
    p = Proximity()
    assert kinds(p.scan("d", 0, {"b1": -60}, BEACON)) == [(Kind.BEACON_ENTERED, "b1", 0)]
    assert p.scan("d", 10, {"b1": -62}, BEACON) == []
    assert p.scan("d", 20, {}, BEACON) == []  # scanned, not seen: quiet for 10 s only
    assert kinds(p.scan("d", 45, {}, BEACON)) == [(Kind.BEACON_EXITED, "b1", 10)]


def test_no_scan_is_no_evidence_of_absence() -> None:
    p = Proximity()
    p.scan("d", 0, {"b1": -60}, BEACON)
    # The phone scanned nothing for ten minutes: still there, until the device is silent.
    assert p.expire("d", 20, BEACON) == []
    assert kinds(p.expire("d", 600, BEACON)) == [(Kind.BEACON_EXITED, "b1", 0)]


def test_hysteresis_holds_between_the_enter_and_exit_levels() -> None:
    p = Proximity()
    assert kinds(p.scan("d", 0, {"b1": -70}, BEACON)) == [(Kind.BEACON_ENTERED, "b1", 0)]
    # Readings between -85 and -75 keep it inside; the average falls slowly (alpha 0.4).
    for t in range(5, 30, 5):
        assert p.scan("d", t, {"b1": -80}, BEACON) == []
    out: list = []  # type: ignore[type-arg]
    t = 30
    while not out:
        out = p.scan("d", t, {"b1": -95}, BEACON)
        t += 5
    assert kinds(out)[0][0] is Kind.BEACON_EXITED


def test_a_weak_first_reading_does_not_enter() -> None:
    p = Proximity()
    assert p.scan("d", 0, {"ap": -85}, WIFI) == []
    assert kinds(p.scan("d", 10, {"ap": -70}, WIFI)) == [(Kind.WIFI_ENTERED, "ap", 10)]


def test_the_state_survives_a_round_trip_mid_stay() -> None:
    a = Proximity()
    a.scan("d", 0, {"b1": -60, "b2": -90}, BEACON)
    b = Proximity.from_dict(a.to_dict())
    later = [(5, {"b1": -61}), (40, {})]
    assert [kinds(a.scan("d", t, s, BEACON)) for t, s in later] == [
        kinds(b.scan("d", t, s, BEACON)) for t, s in later
    ]
