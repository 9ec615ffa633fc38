"""Which customer a stay was at, among neighbours: by the evidence, with the runners-up kept,
and a person's reassignment followed by the plan."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.jobs.runner import JobRunner
from backend.tracking.attribution import attribute_stop
from backend.tracking.jobs import exit_silent_devices
from tests.backend.tracking.conftest import Field, at, recent
from tests.backend.world import errors_for

# Two neighbours 20 m apart in one building, 5 km from everything else in the module.
A_NORTH, A_EAST = -5000.0, 0.0
B_NORTH = A_NORTH + 20.0


def fix_near(minutes_ago: float, north: float, east: float, rng: random.Random) -> dict[str, Any]:
    """A fix scattered about 6 m around (north, east), as indoor fixes are."""
    fix = recent(minutes_ago, north + rng.gauss(0, 6), east + rng.gauss(0, 6))
    return {**fix, "accuracy_m": 12}


async def upload(
    client: AsyncTestClient[Litestar], h: dict[str, str], device: str, *batches: list[Any]
) -> None:
    """The batches as the phone uploads them, one request each."""
    for batch in batches:
        r = await client.post(
            "/ingest/locations", json={"device_id": device, "points": batch}, headers=h
        )
        assert r.status_code == 200, r.text


def every_five_minutes(pts: list[Any]) -> list[list[Any]]:
    """Fixes half a minute apart, uploaded every five minutes (ten a batch)."""
    return [pts[k : k + 10] for k in range(0, len(pts), 10)]


async def visits_of(
    client: AsyncTestClient[Litestar], h: dict[str, str], device: str
) -> list[dict[str, Any]]:
    """The device's visits that stand, in the order they began."""
    visits = await client.get("/visits", params={"limit": 500}, headers=h)
    assert visits.status_code == 200, visits.text
    mine = [v for v in visits.json()["items"] if v["device_id"] == device]
    return sorted(mine, key=lambda v: str(v["arrived_at"]))


async def customer(field: Field, name: str, north: float, who: str | None = None) -> str:
    """A customer `north` metres north of the fixture's origin (A_EAST east), `who`'s own."""
    lat, lon = at(north, A_EAST)
    body: dict[str, Any] = {"name": name, "lat": lat, "lon": lon, "status": "customer"}
    if who is not None:
        body["assigned_agent_id"] = str(field.tenant.users[who])
    return str((await field.tenant.post("admin", "/customers", body))["id"])


async def door(field: Field, customer_id: str, north: float) -> str:
    """A 50 m door fence around the customer at `north` (dwell two minutes)."""
    lat, lon = at(north, A_EAST)
    fence = await field.tenant.post(
        "admin",
        "/geofences",
        {"name": "door", "customer_id": customer_id, "dwell_s": 120,
         "circle": {"lat": lat, "lon": lon, "radius_m": 50}},
    )  # fmt: skip
    return str(fence["id"])


async def neighbours(field: Field, tag: str, who: str) -> tuple[str, str]:
    """Two of `who`'s customers, 20 m apart."""
    ids = []
    for name, north in ((f"A {tag}", A_NORTH), (f"B {tag}", B_NORTH)):
        lat, lon = at(north, A_EAST)
        c = await field.tenant.post(
            "admin",
            "/customers",
            {
                "name": name,
                "lat": lat,
                "lon": lon,
                "status": "customer",
                "assigned_agent_id": str(field.tenant.users[who]),
            },
        )
        ids.append(c["id"])
    return ids[0], ids[1]


async def stay_at_a(client: AsyncTestClient[Litestar], field: Field, who: str) -> dict[str, Any]:
    """Twelve minutes at A (fixes scattered around it), then leaving: the stop's visit."""
    rng = random.Random(4)
    device = await field.device(who)
    pts = [fix_near(20 - i * 0.5, A_NORTH, A_EAST, rng) for i in range(25)]
    pts += [fix_near(7, A_NORTH - 600, A_EAST, rng), fix_near(6.5, A_NORTH - 900, A_EAST, rng)]
    h = field.tenant.h(who)
    r = await client.post("/ingest/locations", json={"device_id": device, "points": pts}, headers=h)
    assert r.status_code == 200, r.text
    visits = await client.get(
        "/visits", params={"agent_id": str(field.tenant.users[who]), "source": "stop"}, headers=h
    )
    found = visits.json()["items"]
    assert len(found) == 1, visits.text
    return dict(found[0])


async def appointment_now(field: Field, who: str, customer_id: str) -> dict[str, Any]:
    """`who`'s plan for today, in a time zone where it is about noon now: an appointment at
    the customer at the top of the hour (within the plan's three hours of now)."""
    offset = 12 - datetime.now(UTC).hour
    zone = "Etc/GMT" + (f"{-offset:+d}" if offset else "")
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    lat, lon = at(A_NORTH - 300, A_EAST)
    profile = {
        "start": {"lat": lat, "lon": lon},
        "shift_start": "06:00",
        "shift_end": "20:00",
        "timezone": zone,
    }
    start = local.replace(minute=0, second=0, microsecond=0)
    body = {
        "agent_id": str(field.tenant.users[who]),
        "date": local.date().isoformat(),
        "profile": profile,
        "appointments": [
            {"customer_id": customer_id, "start": start.isoformat(), "service_min": 30}
        ],
        "prospects": [],
        "time_limit_s": 0.3,
    }
    return dict(await field.tenant.post(who, "/plans", body))


class TestTheEvidence:
    def test_where_the_stay_was_decides_between_strangers(self) -> None:
        a = {"id": "a", "d": 4.0, "planned": False, "assigned": False, "fenced": False}
        b = {"id": "b", "d": 18.0, "planned": False, "assigned": False, "fenced": False}
        chosen = attribute_stop([b, a])
        assert chosen is not None and chosen.customer_id == "a" and chosen.by == "nearest"
        assert chosen.runners_up[0]["customer_id"] == "b"
        assert 0 < chosen.runners_up[0]["share"] < 0.5

    def test_the_plan_outweighs_the_door_and_the_agents_own_outweigh_strangers(self) -> None:
        planned = {"id": "p", "d": 55.0, "planned": True, "assigned": False, "fenced": False}
        door = {"id": "d", "d": 2.0, "planned": False, "assigned": False, "fenced": False}
        chosen = attribute_stop([door, planned])
        assert chosen is not None and (chosen.customer_id, chosen.by) == ("p", "plan")
        own = {"id": "o", "d": 20.0, "planned": False, "assigned": True, "fenced": False}
        stranger = {"id": "s", "d": 12.0, "planned": False, "assigned": False, "fenced": False}
        chosen = attribute_stop([stranger, own])
        assert chosen is not None and (chosen.customer_id, chosen.by) == ("o", "assigned")
        assert sum(r["share"] for r in chosen.runners_up) < 0.5


class TestNeighboursWithoutAPlan:
    async def test_the_visit_goes_where_the_agent_stayed_and_can_be_reassigned(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        a, b = await neighbours(field, "no plan", "agent2")
        visit = await stay_at_a(client, field, "agent2")
        # Both are the agent's own: where the stay was decides.
        assert visit["customer_id"] == a and visit["attributed_by"] == "assigned"
        assert [r["customer_id"] for r in visit["runners_up"]] == [b]
        h = field.tenant.h("agent2")
        moved = await client.patch(f"/visits/{visit['id']}", json={"customer_id": b}, headers=h)
        assert moved.status_code == 200, moved.text
        body = moved.json()
        assert body["customer_id"] == b and body["attributed_by"] == "person"
        assert body["runners_up"][0] == {"customer_id": a, "share": None}
        # What was said of the visit is corrected: the customer changed.
        said = await client.get(
            "/events", params={"kind": "visit_updated", "device_id": visit["device_id"]}, headers=h
        )
        updates = [e for e in said.json()["items"] if e["visit_id"] == visit["id"]]
        assert [(e["customer_id"], e["data"]["changed"]) for e in updates] == [(b, ["customer_id"])]
        assert updates[0]["data"]["was"]["customer_id"] == a
        # A customer the agent cannot see (another tenant's, or none there is): not found,
        # naming the field; none at all: refused.
        other = await client.patch(
            f"/visits/{visit['id']}", json={"customer_id": str(uuid.uuid4())}, headers=h
        )
        assert other.status_code == 404 and errors_for(other) == ["customer_id"]
        none = await client.patch(f"/visits/{visit['id']}", json={"customer_id": None}, headers=h)
        assert none.status_code == 422 and errors_for(none) == ["customer_id"]


class TestAPlansStopFollowsAReassignment:
    async def test_the_stop_it_fulfilled_is_planned_again(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        a, b = await neighbours(field, "planned", "agent")
        h = field.tenant.h("agent")
        plan = await appointment_now(field, "agent", a)
        visit = await stay_at_a(client, field, "agent")
        assert visit["customer_id"] == a and visit["attributed_by"] == "plan"
        read = (await client.get(f"/plans/{plan['id']}", headers=h)).json()
        stop = next(s for s in read["stops"] if s["customer_id"] == a)
        assert stop["status"] == "fulfilled" and stop["visit_id"] == visit["id"]
        moved = await client.patch(f"/visits/{visit['id']}", json={"customer_id": b}, headers=h)
        assert moved.status_code == 200, moved.text
        read = (await client.get(f"/plans/{plan['id']}", headers=h)).json()
        stop = next(s for s in read["stops"] if s["customer_id"] == a)
        assert stop["status"] == "planned" and stop["visit_id"] is None


class TestAFencedNeighbour:
    async def test_the_neighbours_fence_is_not_a_visit_while_the_agent_is_next_door(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # Without a plan: A has no fence, B 20 m away has its door fence (50 m, as the docs
        # advise), and the agent spends twelve minutes at A, well inside B's fence too.
        north = A_NORTH - 3000
        ids = {
            "A": await customer(field, "A fenceless", north, "agent2"),
            "B": await customer(field, "B fenced", north + 20, "agent2"),
        }
        fence_id = await door(field, ids["B"], north + 20)
        rng = random.Random(9)
        device = await field.device("agent2")
        pts = [fix_near(60 - i * 0.5, north - 300 + 60 * i, A_EAST, rng) for i in range(5)]
        pts += [fix_near(57.5 - i * 0.5, north, A_EAST, rng) for i in range(25)]
        pts += [fix_near(45 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(4)]
        h = field.tenant.h("agent2")
        await upload(client, h, device, pts)
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [ids["A"]], mine
        assert ids["B"] in [x["customer_id"] for x in mine[0]["runners_up"]]
        events = await client.get(
            "/events", params={"device_id": device, "fence_id": fence_id}, headers=h
        )
        assert events.json()["items"] == []  # B's door saw no stay of its own

    async def test_the_neighbours_door_told_first_is_taken_back_when_the_stay_was_next_door(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # Five-minute uploads. The first ends three minutes into the stay, all of them by B's
        # door (its fence dwells: it tells of a stay at B); the next fifteen are at A, 20 m
        # away: the stay was at A, and B's entered / dwelled / exited no longer stand.
        north = A_NORTH - 12000
        ids = {
            "A": await customer(field, "A fenceless", north, "agent2"),
            "B": await customer(field, "B fenced", north + 20, "agent2"),
        }
        fence_id = await door(field, ids["B"], north + 20)
        rng = random.Random(17)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        first = [fix_near(80 - i * 0.5, north - 300 + 60 * i, A_EAST, rng) for i in range(5)]
        first += [fix_near(77.5 - i * 0.5, north + 25, A_EAST, rng) for i in range(7)]
        later = [fix_near(74 - i * 0.5, north - 5, A_EAST, rng) for i in range(30)]
        later += [fix_near(59 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(8)]
        batches = [first, later]
        for k, batch in enumerate(batches):
            r = await client.post(
                "/ingest/locations", json={"device_id": device, "points": batch}, headers=h
            )
            assert r.status_code == 200, r.text
            events = await client.get(
                "/events", params={"device_id": device, "fence_id": fence_id}, headers=h
            )
            kinds = [e["kind"] for e in events.json()["items"]]
            # Told after the first upload (it is all the phone had said), taken back after.
            assert ("entered" in kinds) is (k == 0), kinds
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [ids["A"]], mine
        assert ids["B"] in [x["customer_id"] for x in mine[0]["runners_up"]]
        taken_back = await client.get(
            "/events",
            params={"device_id": device, "fence_id": fence_id, "include_retracted": "true"},
            headers=h,
        )
        assert {"entered", "dwelled"} <= {e["kind"] for e in taken_back.json()["items"]}


class TestAStopThatTookInTheDoorsFence:
    async def test_goes_to_the_door_where_the_whole_stay_was(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # F has its door fence; G, 25 m towards the car park, has none. Two minutes finding a
        # place to park 80 m out, the walk in past G, twenty minutes at F. Five minutes in, the stop's
        # mean is nearer G: the stop chose G and took in F's fence (its dwell). At its end the
        # whole stay was at F: the visit is F's.
        north = A_NORTH - 24000
        f = await customer(field, "F fenced", north, "agent2")
        g = await customer(field, "G by the car park", north - 25, "agent2")
        await door(field, f, north)
        rng = random.Random(31)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        pts = [
            {**recent(90 - k * 0.5, north - 80, A_EAST - 45 + 30 * k), "accuracy_m": 6}
            for k in range(4)
        ]
        pts += [fix_near(88 - k * 0.5, north - 50 + 25 * k, A_EAST, rng) for k in range(2)]
        pts += [fix_near(87 - i * 0.5, north, A_EAST, rng) for i in range(40)]
        pts += [fix_near(67 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(10)]
        await upload(client, h, device, *every_five_minutes(pts))
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [f], mine
        assert {"stop", "geofence"} <= {mine[0]["source"], *mine[0]["sources"]}
        assert g in [x["customer_id"] for x in mine[0]["runners_up"]]


class TestMovingNextDoorInsideADoorsCircle:
    async def test_two_stays_45_m_apart_are_two_visits_though_one_circle_holds_both(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # C has its 50 m door fence, D next door 45 m away has none. Fifteen minutes at C,
        # then twenty at D (still inside C's circle), and away, in five-minute uploads. The
        # stop moved next door; C's visit ends when D's begins, and the two stand apart.
        north = A_NORTH - 15000
        ids = {
            "C": await customer(field, "C fenced", north, "agent2"),
            "D": await customer(field, "D next door", north + 45, "agent2"),
        }
        await door(field, ids["C"], north)
        rng = random.Random(19)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        pts = [fix_near(90 - i * 0.5, north - 300 + 60 * i, A_EAST, rng) for i in range(5)]
        pts += [fix_near(87.5 - i * 0.5, north, A_EAST, rng) for i in range(30)]
        pts += [fix_near(72.5 - i * 0.5, north + 45, A_EAST, rng) for i in range(40)]
        pts += [fix_near(52.5 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(4)]
        await upload(client, h, device, *every_five_minutes(pts))
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [ids["C"], ids["D"]], mine
        c, d = mine
        assert "geofence" in c["sources"]
        assert c["departed_at"] <= d["arrived_at"]
        # C's visit lasted its fifteen minutes, not the thirty-five its circle held the agent.
        stayed = datetime.fromisoformat(c["departed_at"]) - datetime.fromisoformat(c["arrived_at"])
        assert timedelta(minutes=12) < stayed < timedelta(minutes=18), stayed


class TestThePlanSaysOnce:
    async def test_the_stay_next_door_after_the_planned_one_is_not_the_planned_one(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # P and Q, 40 m apart, are both the agent's own; P is planned now. Fifteen minutes at
        # P, then twenty at Q, and away. The plan's weight would put a stay 40 m away at P;
        # it says to see P once, so the second stay is where the agent was: at Q.
        north = A_NORTH - 18000
        p = await customer(field, "P planned", north, "agent2")
        q = await customer(field, "Q next door", north + 40, "agent2")
        await appointment_now(field, "agent2", p)
        rng = random.Random(23)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        pts = [fix_near(60 - i * 0.5, north - 300 + 60 * i, A_EAST, rng) for i in range(5)]
        pts += [fix_near(57.5 - i * 0.5, north, A_EAST, rng) for i in range(30)]
        pts += [fix_near(42.5 - i * 0.5, north + 40, A_EAST, rng) for i in range(40)]
        pts += [fix_near(22.5 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(4)]
        await upload(client, h, device, *every_five_minutes(pts))
        mine = await visits_of(client, h, device)
        assert [(v["customer_id"], v["attributed_by"]) for v in mine] == [
            (p, "plan"),
            (q, "assigned"),
        ], mine


class TestAStopBegunInTheCarPark:
    async def test_is_recorded_when_it_ends_at_the_customer(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # Four minutes crawling along the street 85 m out looking for a place to park, the
        # walk in, fifteen minutes at E, and away; a fix every 30 s. Five minutes in, where
        # the stop is (the mean of its points) is still 60-70 m out: no customer near enough
        # to say whose stay it is yet. At its end it is at E: one visit, from the start.
        north = A_NORTH - 21000
        e = await customer(field, "E behind the car park", north, "agent2")
        rng = random.Random(29)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        pts = [
            {**recent(70 - k * 0.5, north - 85, A_EAST - 45 + 13 * k), "accuracy_m": 5}
            for k in range(8)
        ]
        pts += [
            {**recent(66, north - 50, A_EAST), "accuracy_m": 8},
            {**recent(65.5, north - 20, A_EAST), "accuracy_m": 12},
        ]
        pts += [fix_near(65 - i * 0.5, north, A_EAST, rng) for i in range(30)]
        pts += [fix_near(50 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(10)]
        await upload(client, h, device, *every_five_minutes(pts))
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [e], mine
        arrived = datetime.fromisoformat(mine[0]["arrived_at"])
        assert abs(arrived - (datetime.now(UTC) - timedelta(minutes=70))) < timedelta(minutes=2)
        # A fix of the stay that comes late: the device's events are replayed from before it,
        # the start recorded with the end among them. The visit stands, from the same start.
        await upload(client, h, device, [fix_near(58.2, north, A_EAST, rng)])
        again = await visits_of(client, h, device)
        assert [(v["id"], v["arrived_at"]) for v in again] == [
            (mine[0]["id"], mine[0]["arrived_at"])
        ], again


class TestAStopCutWhereNoCustomerIs:
    async def test_its_visit_still_ends(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # Three minutes parked 90 m out, then ten at H: five minutes in, the stop (the mean
        # of its points) is within 60 m of H and its visit begins; six minutes in, the stop
        # splits from the car park, where it ends: no customer there. Its end is recorded
        # all the same (it closes the visit's sighting), and H's visit ends when the agent
        # leaves.
        north = A_NORTH - 27000
        h_id = await customer(field, "H", north, "agent2")
        rng = random.Random(37)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        pts = [{**recent(60 - k * 0.5, north - 90, A_EAST + k), "accuracy_m": 5} for k in range(6)]
        pts += [fix_near(57 - i * 0.5, north, A_EAST, rng) for i in range(20)]
        pts += [fix_near(47 - i * 0.5, north - 300 - 200 * i, A_EAST, rng) for i in range(10)]
        await upload(client, h, device, pts[:11], pts[11:])  # the first ends as it begins
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [h_id], mine
        assert mine[0]["departed_at"] is not None, mine


class TestWhereTheWholeStayWas:
    async def test_a_stop_begun_by_one_door_and_spent_at_the_next_goes_to_the_next(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # X is by the car park, Y 25 m further in. Six minutes by X (parking, a call), then
        # fifteen at Y: the stop began (and was first attributed) by X, the stay was at Y.
        north = A_NORTH - 6000
        ids = {
            "X": await customer(field, "X by the car park", north),
            "Y": await customer(field, "Y further in", north + 25),
        }
        rng = random.Random(11)
        device = await field.device("agent2")
        pts = [fix_near(120 - i * 0.5, north, A_EAST, rng) for i in range(13)]
        pts += [fix_near(113.5 - i * 0.5, north + 25, A_EAST, rng) for i in range(30)]
        pts += [fix_near(98 - i * 0.5, north - 400 - 200 * i, A_EAST, rng) for i in range(8)]
        h = field.tenant.h("agent2")
        for batch in (pts[:14], pts[14:]):  # as the phone uploads: the stop began in the first
            r = await client.post(
                "/ingest/locations", json={"device_id": device, "points": batch}, headers=h
            )
            assert r.status_code == 200, r.text
        mine = await visits_of(client, h, device)
        assert [(v["customer_id"], v["attributed_by"]) for v in mine] == [(ids["Y"], "nearest")]
        assert [x["customer_id"] for x in mine[0]["runners_up"]] == [ids["X"]]
        # What was said of it was corrected: it started at X.
        said = await client.get("/events", params={"device_id": device}, headers=h)
        told = [(e["kind"], e["customer_id"]) for e in said.json()["items"]
                if e["kind"] in ("visit_started", "visit_updated")]  # fmt: skip
        assert sorted(told) == [("visit_started", ids["X"]), ("visit_updated", ids["Y"])]


class TestASilentPhone:
    async def test_a_phone_silent_indoors_that_comes_back_at_the_same_customer_never_left(
        self, client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
    ) -> None:
        # Four minutes at a customer's door (its fence dwells: a visit), then nothing for
        # forty (the phone dozes indoors: the stay is exited at its last fix), then ten more
        # minutes there, and away: one visit.
        north = A_NORTH - 9000
        dozing = await customer(field, "dozing", north)
        await door(field, dozing, north)
        rng = random.Random(13)
        device = await field.device("agent2")
        h = field.tenant.h("agent2")
        first = [fix_near(240 - i * 0.5, north, A_EAST, rng) for i in range(9)]
        again = [fix_near(196 - i * 0.5, north, A_EAST, rng) for i in range(21)]
        away = [fix_near(185 - i * 0.5, north - 400 - 200 * i, A_EAST, rng) for i in range(4)]
        runner = JobRunner(engine)
        runner.add("exit_silent_devices", exit_silent_devices, every_s=60)
        for batch in (first, again + away):
            r = await client.post(
                "/ingest/locations", json={"device_id": device, "points": batch}, headers=h
            )
            assert r.status_code == 200, r.text
            # An hour without an upload: silent by the clock, exited at its last fix.
            await runner.run("exit_silent_devices", now=datetime.now(UTC) + timedelta(hours=1))
        mine = await visits_of(client, h, device)
        assert [v["customer_id"] for v in mine] == [dozing], mine
        assert mine[0]["duration_s"] >= 50 * 60
