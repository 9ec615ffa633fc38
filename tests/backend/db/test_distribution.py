"""Ready for Citus (docs/operations.md): every table is either a tenant table, distributable by
`tenant_id` (its primary key, every unique key and every foreign key to another tenant table
lead with or hold `tenant_id`), or a named reference or local table. Read from the migrated
schema's catalog, so a new table or constraint that breaks this fails here."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

# Small tables every tenant's rows join, which Citus would copy to every node.
REFERENCE = {"tenants"}
# Tables of the service itself, not of any tenant, that stay on the coordinator.
LOCAL = {"alembic_version", "job_state", "spatial_ref_sys"}
# Keys a request is found by before its tenant is known (an API key's prefix, an enrollment
# code, a calendar feed's token): unique across tenants. Under Citus each moves to a reference
# table of its own (key → tenant_id, id); docs/operations.md lists it. Nothing else may.
CREDENTIAL_LOOKUPS = {
    "uq_store_apps_key_prefix",
    "ix_device_enrollments_code_hash",
    "uq_calendar_feeds_token_hash",
}

KEYS = """
SELECT t.relname AS tbl, c.conname, c.contype::text AS contype,
       (SELECT r.relname FROM pg_class r WHERE r.oid = c.confrelid) AS target,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) k
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS cols,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) k
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k) AS target_cols
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f') AND NOT t.relispartition
"""

UNIQUE_INDEXES = """
SELECT t.relname AS tbl, i.relname AS idx,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) k
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k) AS cols
FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND x.indisunique AND NOT t.relispartition
"""

TABLES = """
SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                           AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_keyed
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""


async def test_every_table_is_distributable_by_tenant_or_named(db_url: str) -> None:
    url = make_url(db_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        database=url.database,
    )  # fmt: skip
    try:
        tables = {r["relname"]: r["tenant_keyed"] for r in await conn.fetch(TABLES)}
        keys = await conn.fetch(KEYS)
        unique_indexes = await conn.fetch(UNIQUE_INDEXES)
    finally:
        await conn.close()
    assert {"customers", "visits", "plans", "pings", "week_plans"} <= set(tables)
    tenant_tables = {t for t, keyed in tables.items() if keyed and t not in REFERENCE | LOCAL}
    unnamed = sorted(t for t, keyed in tables.items() if not keyed and t not in REFERENCE | LOCAL)
    assert unnamed == [], "a table without tenant_id must be named a reference or local table"

    broken = []
    for k in keys:
        if k["tbl"] not in tenant_tables:
            continue
        cols = list(k["cols"])
        if k["contype"] in ("p", "u") and "tenant_id" not in cols:
            if k["conname"] in CREDENTIAL_LOOKUPS:
                continue
            broken.append(f"{k['tbl']}.{k['conname']}: a key without tenant_id {cols}")
        if k["contype"] == "f" and k["target"] in tenant_tables:
            pairs = dict(zip(cols, k["target_cols"], strict=True))
            if pairs.get("tenant_id") != "tenant_id":
                broken.append(f"{k['tbl']}.{k['conname']}: a foreign key across tenants {cols}")
    for i in unique_indexes:
        if i["idx"] in CREDENTIAL_LOOKUPS:
            continue
        if i["tbl"] in tenant_tables and "tenant_id" not in i["cols"]:
            broken.append(f"{i['tbl']}.{i['idx']}: a unique index without tenant_id")
    assert broken == [], "\n".join(broken)
