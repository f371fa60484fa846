"""Where a registered cluster may live (ARCHITECTURE.md decision 14).

NATS clusters usually sit on private networks, so those are allowed. Link-local and cloud
metadata addresses (and unspecified and multicast ones) never are, whatever a setting says;
`JETDECK_CLUSTER_ALLOWED_NETWORKS` (CIDRs), when set, narrows the rest.

Checked twice: when a cluster is registered or its servers change (400 naming the server), and
at every connect after DNS resolution (`pin`): the connection then goes to the very addresses
checked, so a name that resolves elsewhere later (DNS rebinding) gains nothing. A TLS
connection keeps verifying the server's certificate against the name given.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from urllib.parse import SplitResult, urlsplit, urlunsplit

from shared.errors import Invalid, Unavailable
from shared.nats.connection import ConnectionSpec
from shared.netguard import (
    IPAddress,
    IPNetwork,
    in_networks,
    never_allowed,
    parse_networks,
    resolve,
)

REFUSED = "cluster_address_refused"
DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}
RESOLVE_TIMEOUT = 5.0
POLICY = (
    "link-local and cloud-metadata addresses are never used, and JETDECK_CLUSTER_ALLOWED_NETWORKS "
    "may narrow the rest"
)


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 4222)


class AddressPolicy:
    """Which addresses a cluster connection may go to."""

    def __init__(self, allowed_networks: list[str] | None = None):
        self.networks: list[IPNetwork] = parse_networks(allowed_networks or [])

    def allows(self, address: IPAddress) -> bool:
        if never_allowed(address):
            return False
        return not self.networks or in_networks(address, self.networks)

    async def _addresses(self, url: str) -> list[IPAddress]:
        host, port = host_port(url)
        return await asyncio.wait_for(resolve(host, port), RESOLVE_TIMEOUT)

    async def check_registration(self, servers: list[str]) -> None:
        """400 naming the first server that resolves to an address clusters may not use. A
        name that does not resolve yet is accepted: every connect checks again."""
        for i, url in enumerate(servers):
            try:
                addresses = await self._addresses(url)
            except (OSError, TimeoutError, ValueError):
                continue
            if not all(self.allows(a) for a in addresses):
                raise Invalid(
                    f"servers[{i}]: {host_port(url)[0]} is not an address a cluster may use "
                    f"({POLICY}).",
                    code=REFUSED,
                    extra={"field": f"servers[{i}]"},
                )

    async def pin(self, spec: ConnectionSpec, label: str) -> ConnectionSpec:
        """`spec` with every server replaced by the addresses it resolves to now, refused ones
        left out; 503 `cluster_address_refused` (one answer, whatever the port would have
        said) when none is left. With TLS, the certificate is still verified against the name
        given; when several names would each need their own (TLS to several host names, or
        websockets), the servers are checked but connected by name."""
        pinned: list[str] = []
        names: set[str] = set()
        refused = unresolved = 0
        for url in spec.servers:
            parts = urlsplit(url)
            try:
                addresses = await self._addresses(url)
            except (OSError, TimeoutError, ValueError):
                unresolved += 1
                continue
            usable = [a for a in addresses if self.allows(a)]
            if len(usable) < len(addresses):
                refused += 1
            if not usable or len(usable) < len(addresses):
                continue  # a name that also points somewhere forbidden is not used at all
            names.add(parts.hostname or "")
            pinned.extend(_with_host(parts, a) for a in usable)
        if not pinned:
            if refused:
                raise Unavailable(
                    f"Cannot connect to cluster {label!r}: its servers are not at addresses a "
                    f"cluster may use ({POLICY}).",
                    code=REFUSED,
                    extra={"cluster": label},
                )
            raise Unavailable(
                f"Cannot connect to cluster {label!r}: the server name does not resolve (DNS)",
                code="cluster_dns_failed",
                extra={"cluster": label},
            )
        schemes = {urlsplit(url).scheme for url in spec.servers}
        uses_tls = spec.tls is not None or bool(schemes & {"tls", "wss"})
        if schemes & {"ws", "wss"} or (uses_tls and len(names) > 1):
            kept = tuple(u for u in spec.servers if urlsplit(u).hostname in names)
            return replace(spec, servers=kept)
        return replace(spec, servers=tuple(pinned), tls_hostname=names.pop() if uses_tls else None)


def _with_host(parts: SplitResult, address: IPAddress) -> str:
    host = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rpartition("@")[0]
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 4222)
    netloc = f"{userinfo + '@' if userinfo else ''}{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
