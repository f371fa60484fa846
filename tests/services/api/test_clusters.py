"""Clusters through the API: register, read, change, remove, test, overview, import."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.embedded.nats import NatsDeployment
from services.embedded.process import free_port
from tests.fixtures.jetstream import ORG_PATH, cluster_body
from tests.fixtures.nats import NatsTarget, _jetstream_ready
from tests.fixtures.services import unavailable


async def test_a_registered_cluster_says_which_secrets_are_set_and_never_shows_them(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    created = await client.post(
        ORG_PATH, json=cluster_body(nats_server, "prod", system=True), headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["auth"] == {
        "type": "user_password",
        "username": "jetdeck",
        "password_set": True,
        "token_set": False,
        "seed_set": False,
        "creds_set": False,
    }
    assert body["system_auth"]["password_set"] is True
    listed = await client.get(ORG_PATH, headers=await auth_headers("viewer"))
    assert listed.json()["total"] == 1
    assert nats_server.password not in listed.text and nats_server.password not in created.text


async def test_secrets_are_encrypted_at_rest(
    client: Any, auth_headers: Any, nats_server: Any, accounts: Any
) -> None:
    from sqlalchemy import text

    await client.post(
        ORG_PATH, json=cluster_body(nats_server, "prod"), headers=await auth_headers("admin")
    )
    async with accounts.db.session() as session:
        row = (await session.execute(text("SELECT secrets, auth::text FROM clusters"))).one()
    assert nats_server.password not in row[0] and nats_server.password not in row[1]


async def test_only_admins_register_clusters(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    response = await client.post(
        ORG_PATH, json=cluster_body(nats_server, "prod"), headers=await auth_headers("editor")
    )
    assert response.status_code == 403


async def test_a_second_cluster_with_the_same_name_conflicts(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    again = await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "cluster_name_in_use"


async def test_the_console_page_names_new_and_import_are_refused_as_cluster_names(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    for name in ("new", "import"):
        refused = await client.post(ORG_PATH, json=cluster_body(nats_server, name), headers=admin)
        assert refused.status_code == 400
        assert refused.json()["code"] == "cluster_name_reserved"
        assert refused.json()["extra"]["field"] == "name"
    created = await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    assert created.status_code == 201
    renamed = await client.patch(f"{ORG_PATH}/prod", json={"name": "new"}, headers=admin)
    assert renamed.status_code == 400
    listed = await client.get(ORG_PATH, headers=admin)
    assert [c["name"] for c in listed.json()["items"]] == ["prod"]


async def test_patching_keeps_the_stored_password_when_none_is_given(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    patched = await client.patch(
        f"{ORG_PATH}/prod",
        headers=admin,
        json={"environment": "staging", "auth": {"type": "user_password", "username": "jetdeck"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["environment"] == "staging"
    tested = await client.post(f"{ORG_PATH}/prod/test", headers=admin)
    assert tested.json()["ok"] is True


async def test_a_deleted_cluster_is_gone(client: Any, auth_headers: Any, nats_server: Any) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    assert (await client.delete(f"{ORG_PATH}/prod", headers=admin)).status_code == 204
    missing = await client.get(f"{ORG_PATH}/prod", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "cluster_not_found"


async def test_testing_a_cluster_reports_version_rtt_and_jetstream_account_info(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    result = (
        await client.post(f"{ORG_PATH}/prod/test", headers=await auth_headers("viewer"))
    ).json()
    assert result["ok"] is True
    assert result["server_version"].count(".") == 2
    assert result["rtt_ms"] >= 0
    assert "limits" in result["jetstream"]


async def test_testing_names_the_precise_failure(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    wrong = cluster_body(nats_server, "wrongpass")
    wrong["auth"]["password"] = "nope"
    refused = {
        **cluster_body(nats_server, "refused"),
        "servers": [f"nats://127.0.0.1:{free_port()}"],
    }
    dns = {**cluster_body(nats_server, "dns"), "servers": ["nats://no-such-host.invalid:4222"]}
    system_only = cluster_body(nats_server, "nojs")
    system_only["auth"] = {
        "type": "user_password",
        "username": nats_server.system_user,
        "password": nats_server.system_password,
    }
    codes = {}
    for body in (wrong, refused, dns, system_only):
        await client.post(ORG_PATH, json=body, headers=admin)
        result = (await client.post(f"{ORG_PATH}/{body['name']}/test", headers=admin)).json()
        assert result["ok"] is False
        codes[body["name"]] = result["error"]["code"]
    assert codes == {
        "wrongpass": "cluster_auth_failed",
        "refused": "cluster_unreachable",
        "dns": "cluster_dns_failed",
        "nojs": "jetstream_not_enabled",
    }


@pytest.fixture(scope="module")
def mixed_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsTarget]:
    """Three JetStream servers and a fourth with JetStream off, in one cluster."""
    deployment = NatsDeployment.plan(
        tmp_path_factory.mktemp("mixed"),
        size=4,
        app_password="app-secret",
        system_password="sys-secret",
    )
    deployment.nodes[3].jetstream = False
    try:
        deployment.start()
    except Exception as exc:
        unavailable(f"nats-server could not start: {exc}")
    yield NatsTarget(deployment)
    deployment.wipe()


async def test_the_overview_lists_a_server_without_jetstream_too(
    client: Any, auth_headers: Any, mixed_cluster: NatsTarget
) -> None:
    await _jetstream_ready(mixed_cluster)
    admin = await auth_headers("admin")
    body = cluster_body(mixed_cluster, "mixed", system=True)
    assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201

    overview = (await client.get(f"{ORG_PATH}/mixed/overview", headers=admin)).json()

    assert overview["source"] == "system"
    assert sorted(s["name"] for s in overview["servers"]) == ["n1", "n2", "n3", "n4"]
    assert overview["meta"]["size"] == 3  # the meta cluster is the JetStream servers
    assert overview["meta"]["leader"] in {"n1", "n2", "n3"}


async def test_the_overview_shows_every_server_and_the_meta_leader_with_system_credentials(
    client: Any, auth_headers: Any, nats_cluster: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_cluster, "prod", system=True), headers=admin)
    overview = (await client.get(f"{ORG_PATH}/prod/overview", headers=admin)).json()
    assert overview["source"] == "system"
    assert len(overview["servers"]) == 3
    assert overview["meta"]["leader"] in {s["name"] for s in overview["servers"]}
    # Decoded with the collector's JSZ structs, from the meta leader's reply (it alone lists
    # the peers): the two other servers.
    peers = overview["meta"]["peers"]
    assert sorted(p["name"] for p in peers) == sorted(
        s["name"] for s in overview["servers"] if s["name"] != overview["meta"]["leader"]
    )
    assert all(p["current"] for p in peers)
    assert "limits" in overview["jetstream"]
    # Each server's round trip: how long its reply to the VARZ ping took.
    assert all(isinstance(s["rtt_ms"], float) and s["rtt_ms"] > 0 for s in overview["servers"])


async def test_the_overview_without_system_credentials_shows_what_the_account_sees(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    overview = (await client.get(f"{ORG_PATH}/prod/overview", headers=admin)).json()
    assert overview["source"] == "account"
    assert overview["servers"][0]["version"]
    assert overview["servers"][0]["rtt_ms"] > 0  # a PING/PONG with the server
    assert overview["jetstream"]["usage"]["streams"] == 0


async def test_a_natscli_context_is_imported_with_the_files_it_names(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    context = {
        "description": "prod",
        "url": ",".join(nats_server.servers),
        "user": nats_server.user,
        "password": nats_server.password,
    }
    imported = await client.post(
        f"{ORG_PATH}/import", headers=admin, json={"name": "ctx", "context": context}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["auth"]["password_set"] is True
    assert (await client.post(f"{ORG_PATH}/ctx/test", headers=admin)).json()["ok"] is True
    missing = await client.post(
        f"{ORG_PATH}/import",
        headers=admin,
        json={"name": "ctx2", "context": {"url": "nats://x:4222", "creds": "/home/me/x.creds"}},
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "context_file_missing"


async def test_jetdeck_clusters_import_reads_a_context_file(
    tmp_path: Any, settings: Any, accounts: Any, nats_server: Any, monkeypatch: Any
) -> None:
    import json

    from services.cli import main
    from shared.config import get_settings

    await accounts.make_org("acme")
    path = tmp_path / "local.json"
    path.write_text(
        json.dumps(
            {
                "url": nats_server.servers[0],
                "user": nats_server.user,
                "password": nats_server.password,
            }
        )
    )
    monkeypatch.setenv("JETDECK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("JETDECK_ENCRYPTION_KEY", settings.app.encryption_key)
    monkeypatch.setenv("JETDECK_SECRET_KEY", settings.app.secret_key)
    get_settings.cache_clear()
    from tests.fixtures.services import in_thread

    code = in_thread(main, ["clusters", "import", str(path), "--org", "acme"])
    get_settings.cache_clear()
    assert code == 0
    from sqlalchemy import text

    async with accounts.db.session() as session:
        names = (await session.execute(text("SELECT name FROM clusters"))).scalars().all()
    assert names == ["local"]
    async with accounts.db.session() as session:
        trail = (
            await session.execute(text("SELECT actor_type, actor_label, action FROM audit_events"))
        ).all()
    assert [(t, action) for t, _, action in trail] == [("system", "cluster.import")]
    assert trail[0][1].startswith("cli:")


async def test_a_cluster_that_stops_answering_is_503_naming_it(
    settings: Any, auth_headers: Any, nats_server: Any
) -> None:
    from litestar.testing import AsyncTestClient

    from services.app import create_app

    settings.nats.request_timeout = 1.0
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        admin = await auth_headers("admin")
        await client.post(ORG_PATH, json=cluster_body(nats_server, "prod-eu"), headers=admin)
        assert (await client.get(f"{ORG_PATH}/prod-eu/streams", headers=admin)).status_code == 200
        nats_server.stop_node(0)
        response = await client.get(f"{ORG_PATH}/prod-eu/streams", headers=admin)
    assert response.status_code == 503
    assert response.json()["code"] in {"cluster_timeout", "cluster_unreachable"}
    assert "prod-eu" in response.json()["detail"]
    assert response.json()["extra"]["cluster"] == "prod-eu"


async def test_tls_against_a_plain_server_is_reported_as_a_tls_failure(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    body = {**cluster_body(nats_server, "tls"), "tls": {"handshake_first": True}}
    assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201
    result = (await client.post(f"{ORG_PATH}/tls/test", headers=admin)).json()
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"


async def test_an_invalid_registration_leaves_nothing_behind(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    body = cluster_body(nats_server, "prod")
    del body["auth"]["password"]
    refused = await client.post(ORG_PATH, json=body, headers=admin)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_auth"
    no_servers = await client.post(ORG_PATH, headers=admin, json={**body, "servers": []})
    assert no_servers.status_code == 400
    assert (await client.get(ORG_PATH, headers=admin)).json()["total"] == 0


async def test_cluster_changes_are_audited_without_their_secrets(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    await client.patch(
        f"{ORG_PATH}/prod",
        headers=admin,
        json={"auth": {"type": "token", "token": "s3cret-token-value"}},
    )
    events = await client.get("/api/v1/orgs/acme/audit-events", headers=admin)
    actions = [e["action"] for e in events.json()["items"]]
    assert "cluster.create" in actions and "cluster.update" in actions
    assert nats_server.password not in events.text and "s3cret-token-value" not in events.text
    update = next(e for e in events.json()["items"] if e["action"] == "cluster.update")
    assert update["target"] == "cluster:prod"
    assert update["diff"]["after"]["auth"]["type"] == "token"


async def test_a_cluster_is_registered_enabled_unless_told_otherwise(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    created = await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    paused = await client.post(
        ORG_PATH, json={**cluster_body(nats_server, "paused"), "enabled": False}, headers=admin
    )
    assert created.status_code == 201 and paused.status_code == 201, paused.text
    assert created.json()["enabled"] is True
    listed = (await client.get(ORG_PATH, headers=await auth_headers("viewer"))).json()
    assert {c["name"]: c["enabled"] for c in listed["items"]} == {"paused": False, "prod": True}


async def test_disabling_and_enabling_a_cluster_is_kept_and_audited(
    client: Any, auth_headers: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)

    disabled = await client.patch(f"{ORG_PATH}/prod", headers=admin, json={"enabled": False})
    assert disabled.status_code == 200, disabled.text
    read = (await client.get(f"{ORG_PATH}/prod", headers=await auth_headers("viewer"))).json()
    assert read["enabled"] is False
    renamed = await client.patch(f"{ORG_PATH}/prod", headers=admin, json={"environment": "stg"})
    assert renamed.json()["enabled"] is False  # a patch without `enabled` leaves it alone
    enabled = await client.patch(f"{ORG_PATH}/prod", headers=admin, json={"enabled": True})
    assert enabled.json()["enabled"] is True

    events = (await client.get("/api/v1/orgs/acme/audit-events", headers=admin)).json()["items"]
    switches = [
        e["diff"]
        for e in events
        if e["action"] == "cluster.update" and "enabled" in e["diff"]["after"]
    ]
    assert sorted(switches, key=lambda d: d["after"]["enabled"]) == [
        {"before": {"enabled": True}, "after": {"enabled": False}},
        {"before": {"enabled": False}, "after": {"enabled": True}},
    ]
    assert all(e["target"] == "cluster:prod" for e in events if e["action"] == "cluster.update")


async def test_enabled_must_be_a_boolean(client: Any, auth_headers: Any, nats_server: Any) -> None:
    admin = await auth_headers("admin")
    await client.post(ORG_PATH, json=cluster_body(nats_server, "prod"), headers=admin)
    refused = await client.patch(f"{ORG_PATH}/prod", headers=admin, json={"enabled": "no"})
    assert refused.status_code == 400
    read = (await client.get(f"{ORG_PATH}/prod", headers=admin)).json()
    assert read["enabled"] is True
