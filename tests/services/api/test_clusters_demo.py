"""`jetdeck up` registers its embedded NATS as cluster `demo` in the first organization."""

from __future__ import annotations

from typing import Any

from services.embedded.demo import register_demo_cluster


def credentials(target: Any) -> dict[str, Any]:
    return {
        "servers": target.servers,
        "user": target.user,
        "password": target.password,
        "system_user": target.system_user,
        "system_password": target.system_password,
    }


async def test_the_first_organization_gets_the_demo_cluster_once(
    settings: Any, accounts: Any, client: Any, auth_headers: Any, nats_cluster: Any
) -> None:
    assert await register_demo_cluster(settings, credentials(nats_cluster)) is None  # no org
    await accounts.make_org("acme")
    assert await register_demo_cluster(settings, credentials(nats_cluster)) == "acme"
    assert await register_demo_cluster(settings, credentials(nats_cluster)) is None  # once
    admin = await auth_headers("admin")
    tested = await client.post("/api/v1/orgs/acme/clusters/demo/test", headers=admin)
    assert tested.json()["ok"] is True
    trail = await client.get(
        "/api/v1/orgs/acme/audit-events", headers=admin, params={"action": "cluster.*"}
    )
    assert [(e["actor"], e["action"], e["target"]) for e in trail.json()["items"]] == [
        ({"type": "system", "id": None, "label": "jetdeck up"}, "cluster.create", "cluster:demo")
    ]
    assert credentials(nats_cluster)["password"] not in trail.text
