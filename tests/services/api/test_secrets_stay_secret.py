"""No secret (password, API key, refresh token, invitation token) appears in a response after
its creation, in a log line, or in the audit trail."""

from __future__ import annotations

import logging

from sqlalchemy import text

from tests.fixtures.accounts import Accounts
from tests.fixtures.jetstream import ORG_PATH

PASSWORD = "a very secret password 42"
NEW_PASSWORD = "newcomer secret password 7"


async def test_no_secret_appears_in_responses_logs_or_the_audit_trail(
    client, accounts: Accounts, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    await accounts.make_user("ada@example.com", PASSWORD, org_slug="acme", role="owner")
    secrets: list[str] = [PASSWORD, NEW_PASSWORD]
    later: list[str] = []  # every response body after the creating one

    login = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD + "x"}
    )
    tokens = login.json()
    secrets.append(tokens["refresh_token"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    secrets.append(refreshed.json()["refresh_token"])
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}

    key = (
        await client.post(
            "/api/v1/orgs/acme/api-keys", json={"name": "ci", "role": "viewer"}, headers=headers
        )
    ).json()["key"]
    secrets.append(key)
    invitation = (
        await client.post(
            "/api/v1/orgs/acme/members",
            json={"email": "new@example.com", "role": "viewer"},
            headers=headers,
        )
    ).json()["token"]
    secrets.append(invitation)
    later.append(
        (
            await client.post(
                f"/api/v1/invitations/{invitation}/accept",
                json={"name": "New", "password": NEW_PASSWORD},
            )
        ).text
    )
    # Reuse, so the revocation path runs (and logs, if it logged anything).
    later.append(
        (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
        ).text
    )
    login2 = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login2.json()['access_token']}"}
    later.append(
        (await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {key}"})).text
    )
    for path in (
        "/api/v1/auth/me",
        "/api/v1/orgs/acme",
        "/api/v1/orgs/acme/members",
        "/api/v1/orgs/acme/api-keys",
        "/api/v1/orgs/acme/audit-events",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, path
        later.append(response.text)
    await client.post("/api/v1/auth/logout", json={"refresh_token": secrets[3]})

    async with accounts.db.session() as session:
        audit_rows = [str(row) for row in await session.execute(text("SELECT * FROM audit_events"))]
    # The server's log lines. httpx's are the test client's own: it logs the URL it requested,
    # and API.md puts the invitation token in that URL.
    logs = [
        f"{r.getMessage()} {r.args} {r.exc_text}"
        for r in caplog.records
        if not r.name.startswith("httpx")
    ]
    assert logs  # DEBUG logging of the server side was captured
    assert len(audit_rows) >= 3
    for secret in secrets:
        assert not [body for body in later if secret in body]
        assert not [line for line in logs if secret in line]
        assert not [row for row in audit_rows if secret in row]


async def test_no_cluster_secret_appears_in_responses_logs_or_the_audit_trail(
    client,
    accounts: Accounts,
    auth_headers,
    api_key_headers,
    caplog,
    nats_server,
    token_server,
    nkey_server,
    creds_server,
    tls_server,
    tls_pki,
) -> None:
    """Every kind of cluster secret registered (passwords, system password, a password in a
    server URL, a token, an nkey seed, a creds file, a TLS key) and an API key: after the
    registering request nothing shows any of them — not a response, not a log line at DEBUG,
    not an audit row — through reads, tests, changes, failures and deletion."""
    from shared.nats.connection import split_creds

    caplog.set_level(logging.DEBUG)
    admin, viewer = await auth_headers("admin"), await auth_headers("viewer")
    key_headers = await api_key_headers("admin")
    creds_jwt, creds_seed = split_creds(creds_server.secret)
    key_body = tls_pki.client_key_pem.strip().splitlines()[1]
    secrets = {
        "password": nats_server.password,
        "system password": nats_server.system_password,
        "token": token_server.secret,
        "seed": nkey_server.secret,
        "creds jwt": creds_jwt,
        "creds seed": creds_seed,
        "tls key": key_body,
        "api key": key_headers["Authorization"].removeprefix("Bearer "),
    }
    url_with_password = nats_server.servers[0].replace(
        "nats://", f"nats://{nats_server.user}:{nats_server.password}@"
    )
    clusters = {
        "pw": {
            "servers": nats_server.servers,
            "auth": {
                "type": "user_password",
                "username": nats_server.user,
                "password": nats_server.password,
            },
            "system_auth": {
                "type": "user_password",
                "username": nats_server.system_user,
                "password": nats_server.system_password,
            },
        },
        "in-url": {"servers": [url_with_password]},
        "token": {
            "servers": token_server.servers,
            "auth": {"type": "token", "token": token_server.secret},
        },
        "nkey": {
            "servers": nkey_server.servers,
            "auth": {"type": "nkey", "seed": nkey_server.secret},
        },
        "creds": {
            "servers": creds_server.servers,
            "auth": {"type": "creds", "creds": creds_server.secret},
        },
        "tls": {
            "servers": tls_server.servers,
            "tls": {
                "ca_pem": tls_pki.ca_pem,
                "cert_pem": tls_pki.client_cert_pem,
                "key_pem": tls_pki.client_key_pem,
            },
        },
    }
    seen: list[str] = []
    for name, body in clusters.items():
        created = await client.post(ORG_PATH, json={"name": name, **body}, headers=admin)
        assert created.status_code == 201, created.text
        seen.append(created.text)  # the registering response shows no secret either
    # A wrong secret: the failure paths log and answer too.
    wrong = {**clusters["token"], "auth": {"type": "token", "token": "wrong-" + "t" * 20}}
    await client.post(ORG_PATH, json={"name": "wrong", **wrong}, headers=admin)
    for name in [*clusters, "wrong"]:
        tested = await client.post(f"{ORG_PATH}/{name}/test", headers=admin)
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is (name != "wrong"), (name, tested.text)
        seen.append(tested.text)
        for headers in (viewer, key_headers):
            seen.append((await client.get(f"{ORG_PATH}/{name}", headers=headers)).text)
            seen.append((await client.get(f"{ORG_PATH}/{name}/streams", headers=headers)).text)
        seen.append((await client.get(f"{ORG_PATH}/{name}/overview", headers=viewer)).text)
        patched = await client.patch(
            f"{ORG_PATH}/{name}", json={"environment": "prod"}, headers=admin
        )
        seen.append(patched.text)
    seen.append((await client.get(ORG_PATH, headers=viewer)).text)
    seen.append((await client.get("/api/v1/orgs/acme/audit-events", headers=admin)).text)
    seen.append((await client.get("/api/v1/orgs/acme/api-keys", headers=admin)).text)
    seen.append((await client.get("/api/openapi.json")).text)
    for name in clusters:
        seen.append((await client.delete(f"{ORG_PATH}/{name}", headers=admin)).text)

    async with accounts.db.session() as session:
        rows = [str(r) for r in await session.execute(text("SELECT * FROM audit_events"))]
        stored = [str(r) for r in await session.execute(text("SELECT * FROM clusters"))]
    logs = [
        f"{r.getMessage()} {r.args} {r.exc_text}"
        for r in caplog.records
        if not r.name.startswith("httpx")
    ]
    assert logs and len(rows) >= 2 * len(clusters)
    leaks = [
        (what, where)
        for what, secret in secrets.items()
        for where, texts in (("response", seen), ("log", logs), ("audit", rows), ("row", stored))
        if any(secret in t for t in texts)
    ]
    assert leaks == []
