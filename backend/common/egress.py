"""Where the server may send a request: the one address policy for outgoing requests (the SSRF
guard). Webhooks use it today; any other outgoing request must too.

A target must be HTTPS when the configuration says so, and every address its host resolves
to must be globally routable unicast (`globally_routable`: what IANA's special-purpose
registries say is reachable from the whole Internet) unless it lies in a network the
configuration allows. Everything else is refused, not a list of ranges we thought of: private,
loopback, link-local, carrier-grade NAT (100.64.0.0/10, where one cloud's metadata service
lives), benchmarking, documentation, multicast, the deprecated 6to4 relay (192.88.99.0/24),
and IPv6 addresses that carry an IPv4 one (mapped, 6to4, NAT64, Teredo) unless that one is
itself allowed. The check runs when a subscription is
saved (422 naming `url`) and again before each POST, so a name re-pointed to an internal
address later is refused at send time too. And the POST itself connects only to addresses
checked at that moment (`PinnedTransport`): the address checked is the address used, so a
name that resolves to a public address for the check and to an internal one a moment later
(DNS rebinding) still never reaches inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


# Not globally reachable, though Python's `is_global` says so (IANA's registry: the 6to4 relay
# anycast, RFC 7526, is deprecated and "Globally Reachable: False").
_NOT_GLOBAL = (ipaddress.ip_network("192.88.99.0/24"),)
# IPv6 prefixes that translate to an IPv4 address in their last 32 bits (RFC 6052 NAT64).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, NAT64, Teredo)."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found += list(ip.teredo)
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def globally_routable(ip: IPAddress) -> bool:
    """Unicast and reachable from the whole Internet (and so is any IPv4 address it embeds)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(globally_routable(a) for a in embedded)
    if ip.is_multicast or not ip.is_global:
        return False
    return not any(ip in net for net in _NOT_GLOBAL)


@dataclass(frozen=True)
class TargetPolicy:
    require_https: bool = True
    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, require_https: bool, allow: Sequence[str]) -> TargetPolicy:
        return cls(require_https, tuple(ipaddress.ip_network(n, strict=False) for n in allow))

    def _allowed(self, ip: IPAddress) -> bool:
        return globally_routable(ip) or any(ip in net for net in self.allow_networks)

    def check_url(self, url: str) -> tuple[str, int]:
        """The host and port of a well-formed target URL, or TargetRefused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TargetRefused("the URL must be http or https")
        if self.require_https and parts.scheme != "https":
            raise TargetRefused("the URL must be https (this server requires it)")
        if not parts.hostname:
            raise TargetRefused("the URL has no host")
        if parts.username or parts.password:
            raise TargetRefused("the URL must not carry credentials; sign with the secret")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise TargetRefused("the URL's port is not valid") from exc
        return parts.hostname, port

    async def check(self, url: str) -> list[str]:
        """The addresses the target resolves to, all allowed; or TargetRefused."""
        host, port = self.check_url(url)
        return await self.resolve(host, port)

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to now, all allowed; or TargetRefused."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (socket.gaierror, UnicodeError) as exc:
                raise TargetRefused(f"the host {host!r} does not resolve") from exc
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise TargetRefused(f"the host {host!r} does not resolve")
        for ip in addresses:
            if not self._allowed(ip):
                raise TargetRefused(
                    f"the host {host!r} resolves to {ip}, not a globally routable address; "
                    "this server does not allow it as a target"
                )
        return [str(ip) for ip in addresses]


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host at connect time, then connects to a checked address (TLS
    still verifies the certificate against the host name)."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.resolve(host, port)
        except TargetRefused as exc:
            raise httpcore.ConnectError(f"target refused: {exc}") from exc
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # resolve() returns at least one address
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, connecting only to addresses the policy allows at that moment."""

    def __init__(self, policy: TargetPolicy) -> None:
        super().__init__(trust_env=False)
        # The pool httpx builds, with the checking backend (httpx has no parameter for it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_PinnedBackend(policy),
        )
