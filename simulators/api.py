"""The few calls every simulator makes the way an app does: log in, read every page of a list."""

from __future__ import annotations

from typing import Any

import httpx


async def pages(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], h: dict[str, str]
) -> list[dict[str, Any]]:
    """Every item of a paginated list (500 a page, following `next_cursor`)."""
    out, cursor = [], None
    while True:
        q = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        resp = await http.get(path, params=q, headers=h)
        resp.raise_for_status()
        body = resp.json()
        out += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return out


async def login(http: httpx.AsyncClient, tenant: str, email: str, password: str) -> str:
    resp = await http.post(
        "/auth/login", json={"tenant": tenant, "email": email, "password": password}
    )
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token
