"""No secret (password, API key, refresh token, invitation token) appears in a response after
its creation, in a log line, or in the audit trail."""

from __future__ import annotations

import logging

from sqlalchemy import text

from tests.fixtures.accounts import Accounts

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
