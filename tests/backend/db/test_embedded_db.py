"""The embedded cluster's door: no password-less local connection, no superuser for the service,
a socket directory other local users cannot enter, the password in a 0600 file."""

from __future__ import annotations

import os
import stat
import subprocess

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from backend.embedded_db import DB_NAME, DB_USER, EmbeddedPostgres, pg_bindir

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="the suite runs on a database it was given"
)


@pytest.fixture
def cluster(pg: EmbeddedPostgres | None, db_url: str) -> EmbeddedPostgres:
    assert pg is not None
    return pg


@pytest.mark.parametrize("user", [DB_USER, "postgres"])
async def test_no_password_no_entry(cluster: EmbeddedPostgres, user: str) -> None:
    for wrong in ("", "fieldsense", "postgres"):
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            await asyncpg.connect(
                host="127.0.0.1",
                port=cluster.resolved_port,
                user=user,
                password=wrong,
                database=DB_NAME,
            )


async def test_the_service_role_is_no_superuser(cluster: EmbeddedPostgres) -> None:
    url = make_url(cluster.url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=DB_NAME
    )
    try:
        row = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole FROM pg_roles"
            " WHERE rolname = $1",
            DB_USER,
        )
        # Nor can it read what only a superuser may (the server's files, other roles' secrets).
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT rolpassword FROM pg_authid")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"GRANT pg_execute_server_program TO {DB_USER}")
    finally:
        await conn.close()
    assert (row["rolsuper"], row["rolbypassrls"], row["rolcreatedb"]) == (False, False, True)
    assert row["rolcreaterole"] is False  # it could grant itself pg_execute_server_program


def test_the_socket_directory_and_the_secret_are_the_owners(cluster: EmbeddedPostgres) -> None:
    assert stat.S_IMODE(cluster.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(cluster.secret_path.stat().st_mode) == 0o600
    assert "trust" not in (cluster.datadir / "pg_hba.conf").read_text().split()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another OS user to try")
def test_another_local_user_cannot_reach_the_socket(cluster: EmbeddedPostgres) -> None:
    bindir = pg_bindir()
    assert bindir is not None
    res = subprocess.run(
        [
            "runuser",
            "-u",
            "nobody",
            "--",
            str(bindir / "psql"),
            "-h",
            str(cluster.root),
            "-p",
            str(cluster.resolved_port),
            "-U",
            "postgres",
            "-d",
            DB_NAME,
            "-c",
            "SELECT 1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode != 0
    assert "Permission denied" in res.stderr or "No such file" in res.stderr, res.stderr
