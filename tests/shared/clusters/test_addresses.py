"""The cluster address policy at connect time: pinned to checked addresses, and servers a
cluster advertises at refused addresses dropped."""

from __future__ import annotations

from typing import Any

from shared.clusters.addresses import AddressPolicy
from shared.nats import Auth, ConnectionPool, ConnectionSpec, Tls


async def test_a_host_name_is_pinned_to_its_checked_addresses_keeping_the_tls_name() -> None:
    spec = ConnectionSpec(
        servers=("tls://app:pw@localhost:4443",), tls=Tls(ca_pem=None), name="jetdeck:x"
    )
    pinned = await AddressPolicy().pin(spec, "x")
    assert "tls://app:pw@127.0.0.1:4443" in pinned.servers
    assert all("localhost" not in url for url in pinned.servers)
    assert pinned.tls_hostname == "localhost"


async def test_advertised_servers_are_trusted_only_at_allowed_addresses() -> None:
    policy = AddressPolicy(["10.0.0.0/8"])
    assert policy.allows_host("10.1.2.3")
    assert not policy.allows_host("127.0.0.1")
    assert not policy.allows_host("169.254.169.254")
    assert not AddressPolicy().allows_host("[fd00:ec2::254]")
    assert AddressPolicy().allows_host("nats-2.internal")  # a name: checked when resolved


async def test_servers_a_cluster_advertises_at_refused_addresses_are_not_reconnected_to(
    nats_cluster: Any,
) -> None:
    spec = ConnectionSpec(
        servers=tuple(nats_cluster.servers[:1]),
        auth=Auth(kind="user_password", username=nats_cluster.user, password=nats_cluster.password),
    )
    trusting = ConnectionPool(timeout=5, host_allowed=lambda host: True)
    refusing = ConnectionPool(timeout=5, host_allowed=lambda host: False)
    told = await trusting.connect(spec, "c")
    kept = await refusing.connect(spec, "c")
    try:
        assert len(told.discovered_servers) >= 2  # the cluster advertises its other nodes
        assert kept.discovered_servers == []
    finally:
        await told.close()
        await kept.close()
