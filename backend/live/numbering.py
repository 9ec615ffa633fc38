"""Numbering the live feed: each tenant's rows 1, 2, 3... in the order they became visible.

Writers insert their rows unnumbered, in their own transactions, and take no lock: a lock
held to the end of each commit (or a `NOTIFY`, which PostgreSQL serializes the same way:
each notifying transaction holds one lock through its commit) would make every upload of a
tenant wait for the one before, one disk flush at a time.

One numberer at a time numbers the committed rows it sees. Every API process's hub asks to
lead (`pg_try_advisory_lock` on its own connection, held for as long as that connection
lives); the leader numbers every `NUMBER_EVERY_S`, and the others ask again every
`FOLLOW_S`, so that one of them takes over within a second of the leader going away. Each
numbering also takes a transaction lock (`pg_try_advisory_xact_lock`): two numberers never
overlap, even while the lead changes hands. The leader numbers from each tenant's head in
`live_heads`, and notifies `fieldsense_live` with each tenant it numbered. The numberings run
one after another, each numbering above the last: every row numbered below n became visible
at or before n did, so a reader that has read up to n has read everything up to n, and
`Last-Event-ID` is exact. A row whose transaction commits after a numbering looked is
numbered by the next one.
"""

from __future__ import annotations

import asyncpg

from backend.live.feed import CHANNEL

NUMBER_EVERY_S = 0.05
FOLLOW_S = 1.0
BATCH = 20_000
# The advisory locks' keys: "fsli" (fieldsense live) for a numbering, the next for the lead.
LOCK = 0x6673_6C69
LEAD = LOCK + 1

_ANY = "SELECT EXISTS (SELECT 1 FROM live_events WHERE seq IS NULL)"
_NUMBER = f"""
WITH todo AS (
    SELECT tenant_id, id,
           row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS n,
           count(*) OVER (PARTITION BY tenant_id) AS k
    FROM (SELECT tenant_id, id FROM live_events WHERE seq IS NULL ORDER BY id LIMIT {BATCH}) x
), heads AS (
    INSERT INTO live_heads AS h (tenant_id, seq)
    SELECT DISTINCT tenant_id, k FROM todo
    ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq + excluded.seq
    RETURNING h.tenant_id, h.seq
), numbered AS (
    UPDATE live_events e SET seq = heads.seq - todo.k + todo.n
    FROM todo JOIN heads ON heads.tenant_id = todo.tenant_id
    WHERE e.tenant_id = todo.tenant_id AND e.id = todo.id
    RETURNING e.tenant_id
)
SELECT t.tenant_id, t.rows, pg_notify('{CHANNEL}', t.tenant_id::text)
FROM (SELECT tenant_id, count(*) AS rows FROM numbered GROUP BY tenant_id) t
"""  # noqa: S608 - constants of this module


async def lead(db: asyncpg.Connection) -> bool:
    """Whether this connection leads the numbering (it keeps the lead until it closes)."""
    return bool(await db.fetchval("SELECT pg_try_advisory_lock($1)", LEAD))


async def number(db: asyncpg.Connection) -> int:
    """Number what is waiting, if no other numberer is at it; how many rows."""
    if not await db.fetchval(_ANY):
        return 0
    async with db.transaction():
        if not await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK):
            return 0
        rows = await db.fetch(_NUMBER)
    return sum(int(r["rows"]) for r in rows)
