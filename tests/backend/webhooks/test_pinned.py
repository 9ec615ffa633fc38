"""The POST connects only to an address checked at that moment (no DNS-rebinding window)."""

from __future__ import annotations

import httpx
import pytest

from backend.common.egress import PinnedTransport, TargetPolicy
from simulators.receiver import Receiver


class Rebinding(TargetPolicy):
    """Resolves `rebind.test` (a name no real resolver knows) to the loopback receiver."""

    async def resolve(self, host: str, port: int) -> list[str]:
        if host == "rebind.test":
            return ["127.0.0.1"]
        return await super().resolve(host, port)


async def post(policy: TargetPolicy, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=PinnedTransport(policy), timeout=5) as client:
        return await client.post(url, content=b"{}")


async def test_the_address_checked_is_the_address_used() -> None:
    receiver = Receiver().start()
    try:
        policy = Rebinding.from_settings(False, ["127.0.0.0/8"])
        resp = await post(policy, f"http://rebind.test:{receiver.port}/hooks")
        # Only the policy's answer could lead there: the connection used it, no second lookup.
        assert resp.status_code > 0 and len(receiver.hits) == 1
    finally:
        receiver.stop()


async def test_an_address_refused_at_connect_time_is_not_contacted() -> None:
    receiver = Receiver().start()
    try:
        strict = TargetPolicy.from_settings(False, [])
        for url in (receiver.url, f"http://localhost:{receiver.port}/hooks"):
            with pytest.raises(httpx.ConnectError, match="target refused"):
                await post(strict, url)
        assert receiver.hits == []
    finally:
        receiver.stop()
