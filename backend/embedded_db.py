"""An embedded local PostGIS: a PostgreSQL 15 cluster in a directory of ours.

Used by `fieldsense db up|down|status` (cluster under `.data/pg`) and by the test
suite (a throwaway cluster in a temp dir). PostgreSQL refuses to run as root, so
when invoked as root every server command runs as the `postgres` user, who must
own the data directory.

The door is closed to other local users: the socket directory is the cluster's own (mode
0700), the superuser `postgres` logs in only through that socket and only as the OS user who
runs the cluster (peer), and the service's role `fieldsense` logs in with a generated password
(SCRAM) kept in a 0600 file beside the JWT secret. `fieldsense` is not a superuser and may not
create roles: it owns its database and may create databases (the tests make fresh ones); what
needs more (PostGIS, marking its `&&` leakproof, the app role of row-level security) the
superuser does once, in `template1` for the extensions, so every database made from it has
them. A cluster made before this
is brought to the same settings when it starts.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PG_MAJOR = "15"
POSTGIS_PACKAGE = f"postgresql-{PG_MAJOR}-postgis-3"
DB_NAME = "fieldsense"
DB_USER = "fieldsense"
APP_ROLE = "fieldsense_app"  # backend/db/tenancy.py (this module stays free of the app's imports)


class EmbeddedDbError(RuntimeError):
    """The embedded cluster could not be prepared or started."""


def _say(msg: str) -> None:
    print(f"[db] {msg}", file=sys.stderr, flush=True)


def pg_bindir() -> Path | None:
    """Where PostgreSQL 15's server binaries live, if installed."""
    candidates = [Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(  # noqa: S603
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    for c in candidates:
        if (c / "postgres").exists() and (c / "initdb").exists():
            return c
    return None


def postgis_installed() -> bool:
    return Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/postgis.control").exists()


def ensure_postgis_installed() -> Path:
    """Install Debian's PostGIS (and PostgreSQL 15 with it) when missing."""
    bindir = pg_bindir()
    if bindir is not None and postgis_installed():
        return bindir
    if os.geteuid() != 0:
        raise EmbeddedDbError(
            f"PostgreSQL {PG_MAJOR} with PostGIS is not installed and we are not root: "
            f"run `sudo apt-get install {POSTGIS_PACKAGE}` or set DATABASE_URL"
        )
    _say(f"installing {POSTGIS_PACKAGE} from Debian (one time)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    subprocess.run(  # noqa: S603
        ["apt-get", "install", "-y", "-qq", POSTGIS_PACKAGE],  # noqa: S607
        check=True,
        env=env,
    )
    bindir = pg_bindir()
    if bindir is None or not postgis_installed():
        raise EmbeddedDbError(f"{POSTGIS_PACKAGE} installed but PostgreSQL binaries not found")
    return bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Only through the cluster's own socket directory may its OS user be the superuser; everyone
# else, on the socket or on loopback, shows the password.
HBA = """# written by fieldsense (backend/embedded_db.py) at each start
local   all   postgres   peer map=owner
local   replication   postgres   peer map=owner
local   all   all        scram-sha-256
host    all   all        127.0.0.1/32   scram-sha-256
host    all   all        ::1/128        scram-sha-256
"""

# What only a superuser may do, once in template1 (see the module's docstring and migration
# 0013: a GiST index serves `&&` under row-level security only when it is leakproof).
TEMPLATE_SQL = (
    "CREATE EXTENSION IF NOT EXISTS postgis",
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF",
    "ALTER FUNCTION geography_overlaps(geography, geography) LEAKPROOF",
)


@dataclass
class EmbeddedPostgres:
    """One cluster in `root` (data in root/data, socket and log beside it); the service's
    password in `secret_file` (default: root/secret)."""

    root: Path
    port: int | None = None
    secret_file: Path | None = None
    # More server settings (`name=value`), given at each start.
    options: tuple[str, ...] = ()

    @property
    def secret_path(self) -> Path:
        return self.secret_file or self.root / "secret"

    @property
    def password(self) -> str:
        """The service role's password, generated (0600) the first time it is asked for."""
        path = self.secret_path
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        return value

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def portfile(self) -> Path:
        return self.root / "port"

    @property
    def url(self) -> str:
        return (
            f"postgresql+asyncpg://{DB_USER}:{self.password}@127.0.0.1:"
            f"{self.resolved_port}/{DB_NAME}"
        )

    @property
    def resolved_port(self) -> int:
        if self.port is None:
            if self.portfile.exists():
                self.port = int(self.portfile.read_text().strip())
            else:
                self.port = free_port()
        return self.port

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(
        self, argv: list[str], check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            self._as_owner(argv), capture_output=True, text=True, check=check, input=stdin
        )

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running(self) -> bool:
        bindir = pg_bindir()
        if bindir is None or not self.initialized():
            return False
        res = self._run([str(bindir / "pg_ctl"), "-D", str(self.datadir), "status"], check=False)
        return res.returncode == 0

    def init(self) -> None:
        bindir = ensure_postgis_installed()
        if self.initialized():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        # postgres must be able to reach the directory when we run as root.
        if os.geteuid() == 0:
            for parent in self.root.resolve().parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        _say(f"initdb {self.datadir}")
        res = self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=False,
        )
        if res.returncode != 0:
            raise EmbeddedDbError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
        self.portfile.write_text(str(self.resolved_port))
        self._chown(self.portfile)

    def _close_the_door(self) -> None:
        """The socket directory for its owner only; who may log in how (HBA)."""
        self.root.chmod(0o700)
        owner = "postgres" if os.geteuid() == 0 else getpass.getuser()
        for name, text in (
            ("pg_hba.conf", HBA),
            ("pg_ident.conf", f"owner   {owner}   postgres\n"),
        ):
            path = self.datadir / name
            path.write_text(text)
            path.chmod(0o600)
            self._chown(path)

    def start(self, fsync: bool = True) -> None:
        """Start the server (initializing the cluster first) and create the database."""
        self.init()
        bindir = ensure_postgis_installed()
        self.password  # noqa: B018 (generated before the server may ask for it)
        self._close_the_door()
        if self.running():  # started before this version: read the new HBA now
            self._run([str(bindir / "pg_ctl"), "-D", str(self.datadir), "reload"])
        else:
            opts = (
                f"-p {self.resolved_port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.root} -c max_connections=200 "
                "-c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min"
            )
            if not fsync:
                # Throwaway test clusters only: durability is not what they test.
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            opts += "".join(f" -c {o}" for o in self.options)
            _say(f"starting PostgreSQL on 127.0.0.1:{self.resolved_port}")
            res = self._run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                check=False,
            )
            if res.returncode != 0:
                log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
                raise EmbeddedDbError(f"pg_ctl start failed: {res.stderr.strip()}\n{log}")
        self._ensure_database()

    def _psql(self, sql: str, db: str = "postgres") -> str:
        bindir = ensure_postgis_installed()
        res = self._run(
            [
                str(bindir / "psql"),
                "-h",
                str(self.root),
                "-p",
                str(self.resolved_port),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-qtA",
            ],
            check=False,
            stdin=sql,  # not in argv, which every local user may read (ps): it can hold a password
        )
        if res.returncode != 0:
            raise EmbeddedDbError(f"psql failed: {res.stderr.strip()}")
        return res.stdout.strip()

    def _ensure_database(self) -> None:
        for _ in range(50):
            try:
                exists = self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'")  # noqa: S608 - the module's own role name; psql takes no parameters
                break
            except EmbeddedDbError:
                time.sleep(0.2)
        else:
            raise EmbeddedDbError("server did not accept connections")
        verb = "ALTER" if exists == "1" else "CREATE"
        # The password is URL-safe base64: no quote to escape. No CREATEROLE: in PostgreSQL 15
        # it may grant itself any non-superuser role, pg_execute_server_program among them.
        self._psql(
            f"{verb} ROLE {DB_USER} LOGIN NOSUPERUSER NOCREATEROLE CREATEDB "
            f"PASSWORD '{self.password}'"
        )
        # The app role of row-level security (migration 0009 creates it where the migrating
        # role may; here the superuser does, and lets the service's role switch to it).
        self._psql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
            f"THEN CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
        )
        self._psql(f"GRANT {APP_ROLE} TO {DB_USER} WITH ADMIN OPTION")
        for sql in TEMPLATE_SQL:
            self._psql(sql, db="template1")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":  # noqa: S608 - the module's own database name; psql takes no parameters
            self._psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `immediate`: as a crash would (no checkpoint; tests of failover)."""
        bindir = pg_bindir()
        if bindir is None or not self.running():
            return
        _say("stopping PostgreSQL")
        self._run([str(bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])

    def synchronous(self, standby: str | None) -> None:
        """Commit only once `standby` (its `cluster_name`) has the commit on disk; None: not
        waiting for any. A running server takes it at once (ALTER SYSTEM, reload)."""
        value = standby or ""
        self._psql(f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
        self._psql("SELECT pg_reload_conf()")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> str:
        if not self.initialized():
            return f"not initialized ({self.datadir})"
        state = "running" if self.running() else "stopped"
        return f"{state}: {self.datadir} port {self.resolved_port}"


@dataclass
class EmbeddedReplica(EmbeddedPostgres):
    """A hot standby of `primary` in `root`: a base backup streamed over the primary's socket
    (`pg_basebackup -R`, as the cluster's owner), then started on a port of its own, replaying
    the primary's WAL as it comes. It shares the primary's roles and password."""

    primary: EmbeddedPostgres | None = None
    # The name it streams under (the walreceiver's application_name), which the primary's
    # synchronous_standby_names may name.
    NAME = "fieldsense_standby"

    def __post_init__(self) -> None:
        self.options = (f"cluster_name={self.NAME}", *self.options)

    @property
    def password(self) -> str:
        assert self.primary is not None
        return self.primary.password

    def init(self) -> None:
        assert self.primary is not None
        bindir = ensure_postgis_installed()
        if self.initialized():
            return
        if not self.primary.running():
            raise EmbeddedDbError("the primary is not running: fieldsense db up")
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        self.root.chmod(0o700)
        _say(f"base backup of the primary into {self.datadir}")
        res = self._run(
            [
                str(bindir / "pg_basebackup"),
                "-h",
                str(self.primary.root),
                "-p",
                str(self.primary.resolved_port),
                "-U",
                "postgres",
                "-D",
                str(self.datadir),
                "-R",  # standby.signal and primary_conninfo: a standby from its first start
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            check=False,
        )
        if res.returncode != 0:
            raise EmbeddedDbError(f"pg_basebackup failed: {res.stderr.strip()}")
        self.portfile.write_text(str(self.resolved_port))
        self._chown(self.portfile)

    def _ensure_database(self) -> None:
        """Nothing to create on a standby: it has the primary's, read-only."""
        for _ in range(50):
            try:
                self._psql("SELECT 1")
                return
            except EmbeddedDbError:
                time.sleep(0.2)
        raise EmbeddedDbError("the standby did not accept connections")

    def promote(self) -> None:
        """Make it a primary (the old one is gone): it stops replaying and takes writes."""
        bindir = ensure_postgis_installed()
        res = self._run(
            [str(bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", "promote"],
            check=False,
        )
        if res.returncode != 0:
            raise EmbeddedDbError(f"pg_ctl promote failed: {res.stderr.strip()}")

    def lag(self) -> str:
        """How far it has replayed, against what it has received."""
        return self._psql(
            "SELECT pg_is_in_recovery() AS standby, pg_last_wal_receive_lsn() AS received, "
            "pg_last_wal_replay_lsn() AS replayed, now() - pg_last_xact_replay_timestamp() "
            "AS since_last_replayed_commit"
        )
