"""iCalendar (RFC 5545) in and out, with the `icalendar` library.

Out: an agent's appointments and planned visits as VEVENTs (UTC times, which every calendar
app shows in its own zone; `X-WR-TIMEZONE` names the agent's for those that want it). Each
event's UID is stable (the appointment's or the plan stop's id), so a subscribed calendar
updates an event rather than adding it again.

In: a calendar file's VEVENTs become appointments: DTSTART (with its zone, or UTC; a floating
time is read in the zone the caller names), DTEND or DURATION (60 minutes without either),
SUMMARY as the title, UID to import the same file again without duplicates, and the customer
from `X-FIELDSENSE-CUSTOMER` (its id or its `external_id`; our own feeds carry it). A file
that does not parse is a 422 naming the first bad line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from icalendar.parser import Contentline

from backend.errors import Invalid

PRODID = "-//fieldsense//appointments//EN"
CUSTOMER_PROPERTY = "X-FIELDSENSE-CUSTOMER"
MAX_EVENTS = 5000


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of a feed."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    customer: str | None
    status: str = "CONFIRMED"  # or TENTATIVE


def calendar(name: str, zone: str, entries: Iterable[Entry]) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", zone)
    stamp = datetime.now(UTC)
    for e in entries:
        ev = icalendar.Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.start.astimezone(UTC))
        ev.add("dtend", e.end.astimezone(UTC))
        ev.add("summary", e.summary)
        ev.add("status", e.status)
        if e.customer:
            ev.add(CUSTOMER_PROPERTY.lower(), e.customer)
        cal.add_component(ev)
    return bytes(cal.to_ical())


@dataclass(frozen=True, slots=True)
class Imported:
    line: int
    uid: str | None
    start: datetime
    end: datetime
    summary: str | None
    customer: str | None


_FOLD = re.compile(r"\r?\n[ \t]")


def _first_bad_line(text: str) -> int | None:
    """The number (1-based, in the file as sent) of the first line that is not a content line."""
    physical = text.splitlines()
    n = 0
    while n < len(physical):
        start, line = n, physical[n]
        while n + 1 < len(physical) and physical[n + 1][:1] in (" ", "\t"):
            n += 1
            line += physical[n][1:]
        n += 1
        if not line.strip():
            continue
        try:
            Contentline(line).parts()
        except ValueError:
            return start + 1
    return None


def _when(value: object, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    return None


def read(body: bytes, zone: ZoneInfo) -> list[Imported]:
    """The file's events, in order; a 422 naming the line where the file is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("a calendar file is UTF-8 text", field="body") from exc
    bad = _first_bad_line(text)
    if bad is not None:
        raise Invalid(f"not an iCalendar line: line {bad}", field="body", extra={"line": bad})
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise Invalid(f"not an iCalendar file: {exc}", field="body") from exc
    lines = [i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == "BEGIN:VEVENT"]
    out = []
    for k, ev in enumerate(cal.walk("VEVENT")):
        line = lines[k] if k < len(lines) else 0
        if ev.errors:  # a property whose value does not read as its type
            name, why = ev.errors[0]
            raise Invalid(f"the event at line {line}: {name}: {why}", field="body",
                          extra={"line": line})  # fmt: skip
        start = _when(ev.decoded("dtstart", None), zone)
        if start is None:
            raise Invalid(f"the event at line {line} has no DTSTART", field="body",
                          extra={"line": line})  # fmt: skip
        end = _when(ev.decoded("dtend", None), zone)
        if end is None:
            duration = ev.decoded("duration", None)
            end = start + (duration if isinstance(duration, timedelta) else timedelta(hours=1))
        if end <= start:
            raise Invalid(f"the event at line {line} ends before it starts", field="body",
                          extra={"line": line})  # fmt: skip
        uid, summary, customer = ev.get("uid"), ev.get("summary"), ev.get(CUSTOMER_PROPERTY)
        out.append(
            Imported(
                line=line,
                uid=str(uid) if uid else None,
                start=start,
                end=end,
                summary=str(summary) if summary else None,
                customer=str(customer) if customer else None,
            )
        )
        if len(out) > MAX_EVENTS:
            raise Invalid(f"at most {MAX_EVENTS} events a file", field="body")
    return out
