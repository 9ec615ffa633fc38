"""Korean and English (backend/i18n): every text the code raises or explains has its Korean
entry; a caller's language from their setting, else Accept-Language; errors, drop reasons and
a week's days off in Korean, with the fields and codes as they are."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend import i18n
from backend.i18n.extract import found, missing, web_found
from tests.backend.world import Tenant, errors_for

SEOUL = ZoneInfo("Asia/Seoul")
KO = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}


def test_every_text_the_code_and_the_page_make_has_its_korean_entry() -> None:
    assert len(found()) > 200  # the extractor reads the code (a broken one finds nothing)
    assert len(web_found()) > 40
    assert missing("ko") == {}
    assert missing("ko", "web") == {}
    # Each translation uses the values its text has, no more.
    both = {**i18n.entries("ko"), **i18n.entries("ko", "web")}
    for msgid, msgstr in both.items():
        values = msgid.count("{}")
        used = re.findall(r"\{(\d*)\}", msgstr)
        indexed = [int(u) for u in used if u]
        assert all(k < values for k in indexed), (msgid, msgstr)
        assert sum(1 for u in used if not u) <= values, (msgid, msgstr)


def test_values_are_put_back_reordered_and_written_the_korean_way() -> None:
    assert i18n.tr("unknown customer c-1", "ko") == "알 수 없는 고객 c-1"
    # Reordered: the Korean says the whole before the part.
    assert i18n.tr("3 of 12 places more than 500 m from any road on the map: straight-line "
                   "estimate for their trips", "ko").startswith("장소 12곳 중 3곳")  # fmt: skip
    # A date and a large number, the locale's way; a value that is itself a text, translated.
    assert i18n.tr("2027-03-02 is a Tuesday: a week starts on a Monday", "ko") == (
        "2027. 3. 2.은(는) 화요일입니다. 주는 월요일에 시작합니다"
    )
    assert i18n.tr("at most 10000 rows per import", "ko") == "가져오기당 최대 10,000행입니다"
    assert i18n.tr("a public holiday: Chuseok", "ko") == "공휴일: 추석"
    # No entry: as it is; English: as it is.
    assert i18n.tr("something new", "ko") == "something new"
    assert i18n.tr("unknown customer c-1", "en") == "unknown customer c-1"
    assert i18n.negotiate(None, "fr-FR, ko;q=0.8, en;q=0.9") == "en"
    assert i18n.negotiate(None, "fr-FR, ko;q=0.9, en;q=0.8") == "ko"
    assert i18n.negotiate("en", "ko") == "en"
    assert i18n.negotiate(None, "x-unknown;;q=abc") == "en"


async def test_a_caller_reads_errors_in_their_language_and_fields_stay(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    t = tenant
    bad = {"agent_id": str(t.users["agent"]), "week_start": "2030-01-02"}  # a Wednesday
    r = await client.post("/week-plans", json=bad, headers=t.h("manager"))
    assert r.status_code == 422 and errors_for(r) == ["week_start"]
    assert "a week starts on a Monday" in r.json()["errors"][0]["message"]
    r = await client.post("/week-plans", json=bad, headers={**t.h("manager"), **KO})
    assert r.status_code == 422 and errors_for(r) == ["week_start"]
    message = r.json()["errors"][0]["message"]
    assert "주는 월요일에 시작합니다" in message and "2030. 1. 2." in message, message
    # A domain error too, and a not-found; the status and the field are the same.
    r = await client.get(f"/week-plans/{t.users['agent']}", headers={**t.h("manager"), **KO})
    assert r.status_code == 404 and r.json()["detail"] == "해당 주간 계획이 없습니다"

    # The user's own setting wins over the browser's; null gives the choice back.
    r = await client.patch("/auth/me", json={"locale": "ko"}, headers=t.h("agent2"))
    assert r.status_code == 200 and r.json()["locale"] == "ko" and r.json()["language"] == "ko"
    english = {**t.h("agent2"), "Accept-Language": "en-US"}
    r = await client.get("/week-plans/00000000-0000-0000-0000-000000000000", headers=english)
    assert r.json()["detail"] == "해당 주간 계획이 없습니다"
    r = await client.patch("/auth/me", json={"locale": "fr"}, headers=t.h("agent2"))
    assert r.status_code == 422 and errors_for(r) == ["locale"]
    assert (await client.get("/auth/me", headers=english)).json()["language"] == "ko"
    r = await client.patch("/auth/me", json={"locale": None}, headers=english)
    assert r.json()["locale"] is None and r.json()["language"] == "en"


async def test_a_plans_drop_reasons_are_in_the_readers_language(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Stored once, in English; read in each reader's language."""
    t = tenant
    agent = str(t.users["agent"])
    ids = []
    for k in range(2):
        body = {"name": f"c{k}", "lat": 37.57 + 0.01 * k, "lon": 126.98,
                "org_unit_id": str(t.units["T1"]), "assigned_agent_id": agent}  # fmt: skip
        ids.append((await t.post("admin", "/customers", body))["id"])
    day = (datetime.now(SEOUL) + timedelta(days=3)).date()
    ten = datetime(day.year, day.month, day.day, 10, tzinfo=SEOUL).isoformat()
    body = {
        "agent_id": agent,
        "date": day.isoformat(),
        "profile": {"start": {"lat": 37.56, "lon": 126.97}, "timezone": "Asia/Seoul"},
        # Two appointments at the same time: one is left out, with its reason.
        "appointments": [{"customer_id": c, "start": ten, "service_min": 60} for c in ids],
        "prospects": [],
        "time_limit_s": 0.5,
    }
    plan = await t.post("manager", "/plans", body)
    [dropped] = plan["dropped"]
    assert dropped["reason"] == "conflicts_with_appointment"
    assert dropped["detail"].startswith("overlaps appointment")
    r = await client.get(f"/plans/{plan['id']}", headers={**t.h("manager"), **KO})
    [again] = r.json()["dropped"]
    assert again["reason"] == "conflicts_with_appointment"  # the code stays
    assert again["detail"].startswith("약속 ") and "시간이 겹칩니다" in again["detail"]


def test_a_korean_week_says_its_holiday_in_korean() -> None:
    # The days off are stored in English and read in the reader's language.
    undo = i18n.use("ko")
    try:
        assert i18n.tr("a public holiday: Independence Movement Day") == "공휴일: 삼일절"
        assert i18n.tr("Saturday is not a working day").startswith("토요일")
    finally:
        undo()
    assert i18n.current() == "en"
