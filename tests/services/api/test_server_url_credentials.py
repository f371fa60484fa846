"""A password in a server URL (`nats://app:secret@host:4222`) is a secret like any other:
stored encrypted, never returned, redacted on the audit trail; natscli imports likewise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

CLUSTERS = "/api/v1/orgs/acme/clusters"


def _with_password(nats_server: Any) -> list[str]:
    return [
        url.replace("nats://", f"nats://{nats_server.user}:{nats_server.password}@")
        for url in nats_server.servers
    ]


async def _stored(accounts: Any) -> str:
    async with accounts.db.session() as session:
        rows = await session.execute(text("SELECT * FROM clusters"))
        audit = await session.execute(text("SELECT * FROM audit_events"))
        return repr(rows.all()) + repr(audit.all())


async def test_a_password_in_a_server_url_is_kept_secret_and_still_used(
    client: Any, auth_headers: Any, accounts: Any, nats_server: Any
) -> None:
    admin, viewer = await auth_headers("admin"), await auth_headers("viewer")
    secret = nats_server.password
    created = await client.post(
        CLUSTERS, json={"name": "in-url", "servers": _with_password(nats_server)}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["servers"] == nats_server.servers
    assert body["server_credentials_set"] is True
    seen = [created.text]
    seen.append((await client.get(CLUSTERS, headers=viewer)).text)
    seen.append((await client.get(f"{CLUSTERS}/in-url", headers=viewer)).text)
    seen.append((await client.get("/api/v1/orgs/acme/audit-events", headers=admin)).text)
    tested = await client.post(f"{CLUSTERS}/in-url/test", headers=admin)
    assert tested.json()["ok"] is True, tested.text

    # Given again without it, a server keeps its stored credentials.
    patched = await client.patch(
        f"{CLUSTERS}/in-url", json={"servers": nats_server.servers}, headers=admin
    )
    assert patched.json()["server_credentials_set"] is True
    assert (await client.post(f"{CLUSTERS}/in-url/test", headers=admin)).json()["ok"] is True
    seen.append(patched.text)

    assert all(secret not in text for text in seen)
    assert secret not in await _stored(accounts)


async def test_a_natscli_context_url_with_a_password_is_imported_as_a_secret(
    client: Any, auth_headers: Any, accounts: Any, nats_server: Any
) -> None:
    admin = await auth_headers("admin")
    imported = await client.post(
        f"{CLUSTERS}/import",
        json={"name": "ctx", "context": {"url": ",".join(_with_password(nats_server))}},
        headers=admin,
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["server_credentials_set"] is True
    assert nats_server.password not in imported.text
    assert nats_server.password not in await _stored(accounts)
    assert (await client.post(f"{CLUSTERS}/ctx/test", headers=admin)).json()["ok"] is True
