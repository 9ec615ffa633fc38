"""Settings, read from the environment in one place."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.auth.ratelimit import Limit

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FIELDSENSE_DATA_DIR", ROOT / ".data"))


def _secret() -> str:
    if value := os.environ.get("FIELDSENSE_SECRET"):
        return value
    # A local install keeps one generated secret so tokens survive restarts.
    path = DATA_DIR / "secret"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def job_intervals(value: str) -> dict[str, float]:
    """`"plan_tomorrow=300,exit_silent_devices=30"` as {name: seconds}."""
    out: dict[str, float] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        name, _, seconds = part.partition("=")
        try:
            out[name.strip()] = float(seconds)
        except ValueError as exc:
            raise ValueError(f"FIELDSENSE_JOB_INTERVALS: {part!r} is not name=seconds") from exc
        if out[name.strip()] <= 0:
            raise ValueError(f"FIELDSENSE_JOB_INTERVALS: {part!r} must be positive")
    return out


PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def routing_providers(value: str) -> dict[str, str]:
    """`"kr=http://osrm-kr:5000,jp=http://osrm-jp:5000"` as {name: base URL}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, url = part.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not PROVIDER_NAME.match(name) or not url.startswith(("http://", "https://")):
            raise ValueError(
                f"FIELDSENSE_ROUTING_PROVIDERS: {part!r} is not name=http(s)://host:port "
                "(names: lower-case letters, digits, - and _)"
            )
        out[name] = url
    return out


def _list(value: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",") if n.strip())


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options that follow from the settings: forwarded headers are read only from
    the configured proxies (uvicorn's default believes any client on loopback). Open
    connections get 5 s to finish at shutdown: a live stream never ends on its own."""
    common = {"timeout_graceful_shutdown": 5}
    if not settings.trusted_proxies:
        return {**common, "proxy_headers": False, "forwarded_allow_ips": ""}
    return {
        **common,
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(settings.trusted_proxies),
    }


RATE_DEVICE = Limit(per_minute=120, burst=120)
RATE_API_KEY = Limit(per_minute=600, burst=200)
LOGIN_FAILURES_ACCOUNT = Limit(per_minute=10 / 15, burst=10)  # 10 per 15 minutes
LOGIN_FAILURES_ADDRESS = Limit(per_minute=100 / 15, burst=100)


def _limit(name: str, default: Limit) -> Limit:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        per_minute, burst = raw.split(":")
        limit = Limit(per_minute=float(per_minute), burst=int(burst))
    except ValueError as exc:
        raise ValueError(f"{name}: expected PER_MINUTE:BURST, got {raw!r}") from exc
    if limit.per_minute <= 0 or limit.burst < 1:
        raise ValueError(f"{name}: the rate must be positive and the burst at least 1")
    return limit


def _asyncpg(url: str) -> str:
    """A libpq-style URL as SQLAlchemy's asyncpg dialect takes it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret: str
    token_ttl_s: int = 12 * 3600
    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_size: int = 10
    # Hot standbys serving the read-heavy endpoints, and the lag over which they do not
    # (backend/db/replicas.py).
    read_database_urls: tuple[str, ...] = ()
    read_max_lag_s: float = 5.0
    # Pooled connections per engine opened and readied at start-up (backend/app.py).
    db_pool_warm: int = 4
    # Uploads (POST /ingest/...) in progress at once per API process; the rest wait their turn
    # (backend/common/admission.py).
    ingest_concurrency: int = 4
    # Live streams (GET /live/...) one caller may hold open at once per API process; one
    # more is a 429 (backend/live/controllers.py).
    live_streams_per_caller: int = 4
    # A live stream ends after this long; its client reconnects with Last-Event-ID and loses
    # nothing (streams spread again over the processes after a deploy or a scale-up).
    live_stream_max_s: float = 3600.0
    log_sql: bool = False
    jobs: bool = True
    access_log: bool = True
    # Webhooks out: targets must be HTTPS unless this is off; targets that resolve to a
    # address that is not globally routable are refused unless inside an allowed network
    # (backend/common/egress.py).
    webhook_require_https: bool = True
    webhook_allow_networks: tuple[str, ...] = ()
    webhook_timeout_s: float = 5.0
    webhook_retry_hours: float = 25.0
    webhook_every_s: float = 1.0
    # The manager page's map tiles ({z}/{x}/{y} URL); empty: a plain background (offline).
    map_tiles_url: str = ""
    map_attribution: str = ""
    # The reverse proxies whose X-Forwarded-For / -Proto the server believes (addresses or
    # networks; FIELDSENSE_TRUSTED_PROXIES="10.0.0.5,10.1.0.0/16"). None by default: a client
    # on loopback could otherwise claim any address (and pass the per-address login limit).
    trusted_proxies: tuple[str, ...] = ()
    # Travel on roads (docs/routing.md): an OSRM server's base URL per mode; empty: serve the
    # graphs `fieldsense roads import` built under .data/roads (FIELDSENSE_ROADS_DIR), if any,
    # else the straight-line estimate. FIELDSENSE_ROADS=0 turns roads off.
    routing_url: str = ""
    routing_foot_url: str = ""
    roads: bool = True
    # Named OSRM servers (car) that a tenant may choose in its settings (`travel_provider`),
    # e.g. one per country: FIELDSENSE_ROUTING_PROVIDERS="kr=http://osrm-kr:5000,...".
    routing_providers: dict[str, str] = field(default_factory=dict)
    # Job intervals to override, in seconds: FIELDSENSE_JOB_INTERVALS="plan_tomorrow=300,...".
    job_intervals: dict[str, float] = field(default_factory=dict)
    # Abuse limits, per API process: uploads per device, requests per store-app key, failed
    # logins per account and per client address ("PER_MINUTE:BURST" in the environment).
    rate_device: Limit = RATE_DEVICE
    rate_api_key: Limit = RATE_API_KEY
    login_failures_account: Limit = LOGIN_FAILURES_ACCOUNT
    login_failures_address: Limit = LOGIN_FAILURES_ADDRESS
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=_asyncpg(os.environ.get("DATABASE_URL", "")),
            secret=_secret(),
            token_ttl_s=int(os.environ.get("FIELDSENSE_TOKEN_TTL_S", 12 * 3600)),
            host=os.environ.get("FIELDSENSE_HOST", "127.0.0.1"),
            port=int(os.environ.get("FIELDSENSE_PORT", 8000)),
            db_pool_size=int(os.environ.get("FIELDSENSE_DB_POOL_SIZE", 10)),
            db_pool_warm=int(os.environ.get("FIELDSENSE_DB_POOL_WARM", 4)),
            read_database_urls=tuple(
                _asyncpg(u) for u in _list(os.environ.get("FIELDSENSE_READ_DATABASE_URL", ""))
            ),
            read_max_lag_s=float(os.environ.get("FIELDSENSE_READ_MAX_LAG_S", 5)),
            ingest_concurrency=int(os.environ.get("FIELDSENSE_INGEST_CONCURRENCY", 4)),
            live_streams_per_caller=int(os.environ.get("FIELDSENSE_LIVE_STREAMS_PER_CALLER", 4)),
            live_stream_max_s=float(os.environ.get("FIELDSENSE_LIVE_STREAM_MAX_S", 3600)),
            log_sql=os.environ.get("FIELDSENSE_LOG_SQL", "") == "1",
            jobs=os.environ.get("FIELDSENSE_JOBS", "1") != "0",
            access_log=os.environ.get("FIELDSENSE_ACCESS_LOG", "1") != "0",
            webhook_require_https=os.environ.get("FIELDSENSE_WEBHOOK_REQUIRE_HTTPS", "1") != "0",
            webhook_allow_networks=_list(os.environ.get("FIELDSENSE_WEBHOOK_ALLOW_NETWORKS", "")),
            webhook_timeout_s=float(os.environ.get("FIELDSENSE_WEBHOOK_TIMEOUT_S", 5)),
            webhook_retry_hours=float(os.environ.get("FIELDSENSE_WEBHOOK_RETRY_HOURS", 25)),
            trusted_proxies=_list(os.environ.get("FIELDSENSE_TRUSTED_PROXIES", "")),
            map_tiles_url=os.environ.get("FIELDSENSE_MAP_TILES", ""),
            map_attribution=os.environ.get("FIELDSENSE_MAP_ATTRIBUTION", ""),
            routing_url=os.environ.get("FIELDSENSE_ROUTING_URL", ""),
            routing_foot_url=os.environ.get("FIELDSENSE_ROUTING_FOOT_URL", ""),
            roads=os.environ.get("FIELDSENSE_ROADS", "1") != "0",
            routing_providers=routing_providers(os.environ.get("FIELDSENSE_ROUTING_PROVIDERS", "")),
            job_intervals=job_intervals(os.environ.get("FIELDSENSE_JOB_INTERVALS", "")),
            rate_device=_limit("FIELDSENSE_RATE_DEVICE", RATE_DEVICE),
            rate_api_key=_limit("FIELDSENSE_RATE_API_KEY", RATE_API_KEY),
            login_failures_account=_limit(
                "FIELDSENSE_LOGIN_FAILURES_ACCOUNT", LOGIN_FAILURES_ACCOUNT
            ),
            login_failures_address=_limit(
                "FIELDSENSE_LOGIN_FAILURES_ADDRESS", LOGIN_FAILURES_ADDRESS
            ),
        )
