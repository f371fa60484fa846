"""Where clusters may live (ARCHITECTURE.md decision 14): link-local and cloud-metadata
addresses never, at registration and at every connect; JETDECK_CLUSTER_ALLOWED_NETWORKS
narrows the rest; a refused address gets one generic answer, so ports cannot be probed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.app import create_app
from shared.config import ClusterSettings

CLUSTERS = "/api/v1/orgs/acme/clusters"


def _restricted(settings: Any, *networks: str) -> Any:
    return settings.model_copy(
        update={"clusters": ClusterSettings(allowed_networks=list(networks))}
    )


@pytest.mark.parametrize(
    "server",
    [
        "nats://169.254.169.254:80",
        "nats://169.254.10.1:4222",
        "nats://[fd00:ec2::254]:4222",
        "nats://[fe80::1]:4222",
        "nats://0.0.0.0:4222",
        "tls://[::ffff:169.254.169.254]:4222",
    ],
)
async def test_link_local_and_metadata_addresses_are_refused_at_registration(
    client: Any, auth_headers: Any, server: str
) -> None:
    response = await client.post(
        CLUSTERS,
        json={"name": "probe", "servers": ["nats://127.0.0.1:4222", server]},
        headers=await auth_headers("admin"),
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "cluster_address_refused"
    assert response.json()["extra"]["field"] == "servers[1]"
    listed = await client.get(CLUSTERS, headers=await auth_headers("admin"))
    assert listed.json()["total"] == 0


async def test_allowed_networks_narrow_where_clusters_may_be_registered(
    settings: Any, auth_headers: Any, nats_server: Any
) -> None:
    app = create_app(_restricted(settings, "10.0.0.0/8"))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        refused = await client.post(
            CLUSTERS,
            json={"name": "local", "servers": nats_server.servers},
            headers=await auth_headers("admin"),
        )
        assert refused.status_code == 400
        assert refused.json()["code"] == "cluster_address_refused"
        moved = await client.post(
            CLUSTERS,
            json={"name": "inside", "servers": ["nats://10.1.2.3:4222"]},
            headers=await auth_headers("admin"),
        )
        assert moved.status_code == 201, moved.text
        patched = await client.patch(
            f"{CLUSTERS}/inside",
            json={"servers": ["nats://127.0.0.1:4222"]},
            headers=await auth_headers("admin"),
        )
        assert patched.status_code == 400
        assert patched.json()["code"] == "cluster_address_refused"


async def test_every_connect_checks_the_address_again_and_refuses_without_detail(
    settings: Any, on_server: Any
) -> None:
    """Registered while allowed, then the operator narrowed the networks: browsing answers
    503 and the connection test says only that the address is refused."""
    assert (await on_server.get("/streams")).status_code == 200
    app = create_app(_restricted(settings, "10.0.0.0/8"))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        streams = await client.get(on_server.base + "/streams", headers=on_server.viewer)
        test = await client.post(on_server.base + "/test", headers=on_server.admin)
    assert streams.status_code == 503
    assert streams.json()["code"] == "cluster_address_refused"
    assert test.status_code == 200
    assert test.json()["ok"] is False
    assert test.json()["error"]["code"] == "cluster_address_refused"
    assert "connection refused" not in test.json()["error"]["detail"]


async def test_a_cluster_named_by_host_name_is_connected_at_its_checked_address(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    servers = [url.replace("127.0.0.1", "localhost") for url in nats_server.servers]
    body = {
        "name": "by-name",
        "servers": servers,
        "auth": {
            "type": "user_password",
            "username": nats_server.user,
            "password": nats_server.password,
        },
    }
    created = await client.post(CLUSTERS, json=body, headers=await auth_headers("admin"))
    assert created.status_code == 201, created.text
    test = await client.post(f"{CLUSTERS}/by-name/test", headers=await auth_headers("admin"))
    assert test.json()["ok"] is True, test.text
