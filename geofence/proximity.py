"""Beacon and Wi-Fi presence from scans: smoothed RSSI with hysteresis and a quiet period.

A scan is (time, sightings). An empty scan means "scanned, none seen": it counts towards the
quiet period. No scan at all means nothing: a phone that did not scan is not evidence of
absence, so presence only ends by silence after a scan shows the emitter gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geofence.types import Event, Kind, make_event


@dataclass(frozen=True, slots=True)
class ProximityConfig:
    enter_rssi: float
    exit_rssi: float
    quiet_s: float
    alpha: float  # weight of the newest reading in the moving average
    entered: Kind
    exited: Kind
    source: str


BEACON = ProximityConfig(-75.0, -85.0, 30.0, 0.4, Kind.BEACON_ENTERED, Kind.BEACON_EXITED, "beacon")
WIFI = ProximityConfig(-80.0, -90.0, 60.0, 1.0, Kind.WIFI_ENTERED, Kind.WIFI_EXITED, "wifi")


@dataclass(slots=True)
class Emitter:
    rssi: float
    last_seen: float
    inside: bool = False
    entered_t: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}


@dataclass(slots=True)
class Proximity:
    """One device's view of the beacons (or access points) around it."""

    emitters: dict[str, Emitter] = field(default_factory=dict)
    last_scan_t: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "emitters": {k: v.to_dict() for k, v in self.emitters.items()},
            "last_scan_t": self.last_scan_t,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Proximity:
        return cls({k: Emitter(**v) for k, v in d["emitters"].items()}, d["last_scan_t"])

    def scan(
        self, device: str, t: float, seen: dict[str, float], cfg: ProximityConfig
    ) -> list[Event]:
        """One scan at time t: `seen` maps an emitter key to its RSSI (dBm)."""
        out: list[Event] = []
        self.last_scan_t = t
        for key in sorted(seen):
            rssi = seen[key]
            e = self.emitters.get(key)
            if e is None:
                e = self.emitters[key] = Emitter(rssi=rssi, last_seen=t)
            else:
                e.rssi = cfg.alpha * rssi + (1 - cfg.alpha) * e.rssi
                e.last_seen = t
            if not e.inside and e.rssi >= cfg.enter_rssi:
                e.inside, e.entered_t = True, t
                out.append(
                    make_event(
                        device, cfg.entered, t, key, source=cfg.source, rssi=round(e.rssi, 1)
                    )
                )
            elif e.inside and e.rssi < cfg.exit_rssi:
                out += self._exit(device, key, e, t, cfg)
        for key in sorted(set(self.emitters) - set(seen)):
            e = self.emitters[key]
            if t - e.last_seen >= cfg.quiet_s:
                if e.inside:
                    out += self._exit(device, key, e, e.last_seen, cfg)
                del self.emitters[key]
        return out

    def _exit(
        self, device: str, key: str, e: Emitter, at: float, cfg: ProximityConfig
    ) -> list[Event]:
        e.inside = False
        return [
            make_event(
                device,
                cfg.exited,
                at,
                key,
                source=cfg.source,
                duration_s=max(0.0, at - e.entered_t),
            )
        ]

    def expire(self, device: str, now: float, cfg: ProximityConfig) -> list[Event]:
        """Exit everything when the phone stopped scanning altogether (device silent)."""
        out: list[Event] = []
        for key in sorted(self.emitters):
            e = self.emitters[key]
            if e.inside and now - e.last_seen >= cfg.quiet_s:
                out += self._exit(device, key, e, e.last_seen, cfg)
        self.emitters = {k: v for k, v in self.emitters.items() if v.inside}
        return out
