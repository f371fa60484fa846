"""Which network addresses JetDeck may connect to (ARCHITECTURE.md, decision 14).

Two callers with two policies share these facts: notification URLs refuse every internal
address unless a setting allows private networks; cluster addresses accept private networks
(NATS lives there) but never link-local or cloud-metadata ones. Both check the address
actually connected to, after DNS resolution, so a name that resolves differently later (DNS
rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Instance-metadata endpoints of the clouds JetDeck may run in. Most are link-local anyway;
# the AWS IPv6 one sits in a unique-local range and Alibaba's in the shared range.
METADATA_ADDRESSES = frozenset(
    ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

# Internal but not covered by `is_private` on every Python version.
_SHARED_ADDRESS_SPACE = ip_network("100.64.0.0/10")


def normalize(address: IPAddress | str) -> IPAddress:
    """The address a connection really reaches: an IPv4-mapped IPv6 address is its IPv4."""
    addr = ip_address(address) if isinstance(address, str) else address
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def never_allowed(address: IPAddress | str) -> bool:
    """Link-local, metadata, unspecified and multicast addresses: no caller may connect."""
    addr = normalize(address)
    return (
        addr in METADATA_ADDRESSES or addr.is_link_local or addr.is_unspecified or addr.is_multicast
    )


def is_internal(address: IPAddress | str) -> bool:
    """Loopback, private, unique-local, shared, reserved or any never-allowed address."""
    addr = normalize(address)
    return (
        never_allowed(addr)
        or addr.is_loopback
        or addr.is_private
        or addr.is_reserved
        or (isinstance(addr, IPv4Address) and addr in _SHARED_ADDRESS_SPACE)
        or (isinstance(addr, IPv6Address) and addr.is_site_local)
    )


def parse_networks(values: list[str]) -> list[IPNetwork]:
    """CIDRs from a setting; a bare address is its own /32 or /128. Raises ValueError."""
    return [ip_network(value.strip(), strict=False) for value in values if value.strip()]


def in_networks(address: IPAddress | str, networks: list[IPNetwork]) -> bool:
    addr = normalize(address)
    return any(addr.version == net.version and addr in net for net in networks)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself), deduplicated in
    resolver order. Raises OSError (socket.gaierror) when the name does not resolve."""
    try:
        return [normalize(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(normalize(str(sockaddr[0]).split("%", 1)[0]), None)
    return list(seen)
