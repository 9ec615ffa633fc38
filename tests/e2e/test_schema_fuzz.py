"""Schema fuzzing: schemathesis over every operation of the OpenAPI document, as every role.

The API runs over real HTTP on a database of its own (the fuzzer creates, changes and deletes
whatever its credentials allow). Each operation gets a bounded number of generated requests per
role, least privileged first, so that an admin's deletions do not starve the other roles. Every
response must be below 500 and conform to the documented schema (status code, content type,
headers, body).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, Phase, given
from litestar.testing import AsyncTestClient
from schemathesis import checks
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from backend.app import create_app
from backend.auth.ratelimit import Limit
from backend.config import Settings
from tests.backend.world import Tenant, make_tenant
from tests.conftest import fresh_database, serve

# Requests per operation and role; FIELDSENSE_FUZZ_EXAMPLES raises it for a longer run.
EXAMPLES = int(os.environ.get("FIELDSENSE_FUZZ_EXAMPLES", "6"))
ROLES = ("anonymous", "agent", "store_app", "manager", "admin")
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzz_settings(settings: Settings, db_url: str) -> Settings:
    import asyncio

    url = asyncio.run(fresh_database(db_url, "fuzz"))
    # Thousands of requests a minute with one key and a few devices: lift the abuse limits
    # (tests/e2e/test_abuse.py tests them), or most answers would be 429.
    lifted = Limit(per_minute=1_000_000, burst=100_000)
    return dataclasses.replace(
        settings,
        database_url=url,
        rate_device=lifted,
        rate_api_key=lifted,
        login_failures_account=lifted,
        login_failures_address=lifted,
        # A live stream ends after half a second: the fuzzer reads each answer to its end.
        live_stream_max_s=0.5,
    )


@pytest.fixture(scope="module")
def fuzz_server(fuzz_settings: Settings) -> Iterator[str]:
    with serve(fuzz_settings, log_level="error") as url:
        yield url


@pytest_asyncio.fixture
async def credentials(fuzz_settings: Settings) -> dict[str, dict[str, str]]:
    """One tenant with a user of each role and a store app, on the fuzzer's database."""
    engine = create_async_engine(fuzz_settings.database_url)
    try:
        async with (
            AsyncTestClient(app=create_app(fuzz_settings)) as client,
            AsyncSession(engine, expire_on_commit=False) as session,
        ):
            t: Tenant = await make_tenant(client, session)
            place = await t.post(
                "admin",
                "/places",
                {"name": "Shop", "kind": "store", "lat": 37.5, "lon": 127.0},
            )
            app = await t.post(
                "admin",
                "/store-apps",
                {"name": "SA", "store_ids": [place["id"]], "org_unit_id": str(t.units["B1"])},
            )
    finally:
        await engine.dispose()
    return {
        "anonymous": {},
        "agent": t.h("agent"),
        "manager": t.h("manager"),
        "admin": t.h("admin"),
        "store_app": {"X-API-Key": app["api_key"]},
    }


def _describe(group: BaseExceptionGroup[Any]) -> str:
    lines = [str(e).strip().replace("\n", " ")[:300] for e in group.exceptions]
    return f"{type(group).__name__}: " + " | ".join(lines)


def fuzz_operation(
    operation: Any,
    base_url: str,
    role: str,
    headers: dict[str, str],
    tally: Tally,
    session: Any,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # An operation's own credentials (if the generator made any) yield to the role's: two
        # credentials are a 400 (tests/e2e/test_holes.py).
        own = {
            k: v
            for k, v in (case.headers or {}).items()
            if k.lower() not in ("authorization", "x-api-key")
        }
        case.headers = {**own, **headers}
        response = case.call(base_url=base_url, session=session, timeout=30)
        tally.cases[label] += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as exc:  # schemathesis raises a group of its failures
            tally.failures.append(f"{label} as {role}: {_describe(exc)}")

    run()


# What "schema-valid data is accepted" means here: a 2xx, or the refusals the schema cannot
# express (a record another role owns: 401/403/404; a reference to a record that does not
# exist or a rule across fields: 409/422, naming the field). Too large is a refusal too.
CLI_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "429"]
"""


def _auth(role: str, headers: dict[str, str]) -> str:
    """The role's credential as schemathesis's OpenAPI-aware auth (it then knows which of the
    two schemes it is using, and never sends both)."""
    if "X-API-Key" in headers:
        return f'[auth.openapi.ApiKey]\napi_key = "{headers["X-API-Key"]}"\n'
    token = headers["Authorization"].removeprefix("Bearer ")
    return f'[auth.openapi.BearerToken]\nbearer = "{token}"\n'


def test_every_check_for_every_role(
    fuzz_server: str, credentials: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """schemathesis's own command line, `--checks all --mode all` (negative data too, missing
    headers, unsupported methods, Allow headers, ignored auth), once per role."""
    failures: dict[str, str] = {}
    for role in ("agent", "store_app", "manager", "admin"):
        config = tmp_path / f"{role}.toml"
        config.write_text(CLI_CONFIG + _auth(role, credentials[role]))
        argv = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{fuzz_server}/schema/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(max(1, EXAMPLES // 2)),
            "--seed",
            "29",
            "--generation-deterministic",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "30",
            "--continue-on-failure",
            "--no-color",
        ]
        started = time.monotonic()
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        print(f"fuzz (cli, {role}): exit {res.returncode}, {time.monotonic() - started:.0f} s")
        summary = res.stdout[res.stdout.rfind("SUMMARY") :].strip().splitlines()
        print("\n".join(line for line in summary if line.strip()), flush=True)
        if res.returncode != 0:
            report = tmp_path / f"{role}.txt"
            report.write_text(res.stdout + res.stderr)
            print(f"fuzz (cli, {role}): the whole report in {report}")
            failures[role] = res.stdout[-6000:]
    assert not failures, "\n\n".join(f"== {r}\n{out}" for r, out in failures.items())


def test_no_operation_fails_for_any_role(
    fuzz_server: str, credentials: dict[str, dict[str, str]]
) -> None:
    import requests

    with httpx.Client() as c:
        doc = c.get(f"{fuzz_server}/schema/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 50
    tally = Tally()
    started = time.monotonic()
    with requests.Session() as session:
        for role in ROLES:
            for op in operations:
                fuzz_operation(op, fuzz_server, role, credentials[role], tally, session)
            print(
                f"fuzz: {role} done, {sum(tally.cases.values())} requests,"
                f" {time.monotonic() - started:.0f} s",
                flush=True,
            )
    total = sum(tally.cases.values())
    server_errors = sum(n for s, n in tally.statuses.items() if s >= 500)
    print(f"fuzz: {total} requests over {len(operations)} operations x {len(ROLES)} roles;")
    print(f"fuzz: statuses {dict(sorted(tally.statuses.items()))}")
    assert total >= len(operations) * len(ROLES)
    for line in tally.failures:
        print("fuzz failure:", line)
    assert server_errors == 0, tally.failures
    assert not tally.failures, "\n".join(tally.failures[:20])
