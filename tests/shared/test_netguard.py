"""The address facts both outbound policies (notifications, clusters) are built on."""

from __future__ import annotations

import pytest

from shared.netguard import in_networks, is_internal, never_allowed, parse_networks, resolve


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.10.1",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
    ],
)
def test_link_local_metadata_and_unspecified_addresses_are_never_allowed(address: str) -> None:
    assert never_allowed(address)
    assert is_internal(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "fc00::1",
        "::1",
        "100.64.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_loopback_addresses_are_internal_but_not_forbidden(address: str) -> None:
    assert is_internal(address)
    assert not never_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_are_neither(address: str) -> None:
    assert not is_internal(address)
    assert not never_allowed(address)


def test_allowed_networks_match_by_version_and_prefix() -> None:
    networks = parse_networks(["10.0.0.0/8", "fd12::/16", " 192.168.1.7 "])
    assert in_networks("10.9.9.9", networks)
    assert in_networks("::ffff:10.9.9.9", networks)
    assert in_networks("192.168.1.7", networks)
    assert not in_networks("192.168.1.8", networks)
    assert not in_networks("172.16.0.1", networks)
    with pytest.raises(ValueError):
        parse_networks(["not-a-network"])


async def test_resolve_gives_literals_back_and_looks_names_up() -> None:
    assert [str(a) for a in await resolve("[::1]", 4222)] == ["::1"]
    assert [str(a) for a in await resolve("127.0.0.1", 4222)] == ["127.0.0.1"]
    assert all(is_internal(a) for a in await resolve("localhost", 4222))
