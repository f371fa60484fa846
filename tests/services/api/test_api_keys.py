"""API keys (API.md, API keys): shown once, stored as prefix + HMAC, scoped to an org and a role."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from shared.accounts.authcache import grants
from shared.accounts.models import ApiKey
from shared.db.base import utcnow

KEYS = "/api/v1/orgs/acme/api-keys"


async def test_a_created_key_is_shown_once_and_works_as_a_bearer_token(
    client, auth_headers, accounts
) -> None:
    created = await client.post(
        KEYS, json={"name": "ci", "role": "viewer"}, headers=await auth_headers("admin")
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith("jdk_") and len(key) >= 4 + 43  # 32 random bytes, url-safe base64
    assert body["prefix"] == key[:12]
    assert {
        "id",
        "name",
        "role",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
    } <= body.keys()
    listed = await client.get(KEYS, headers=await auth_headers("admin"))
    assert listed.json()["total"] == 1
    assert "key" not in listed.json()["items"][0]
    assert key not in listed.text
    async with accounts.db.session() as session:
        stored = await session.scalar(select(ApiKey))
    assert key not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    response = await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


async def test_a_key_role_is_at_most_its_creators(client, auth_headers) -> None:
    refused = await client.post(
        KEYS, json={"name": "too much", "role": "owner"}, headers=await auth_headers("admin")
    )
    assert refused.status_code == 403
    allowed = await client.post(
        KEYS, json={"name": "ok", "role": "admin"}, headers=await auth_headers("admin")
    )
    assert allowed.status_code == 201


async def test_a_key_belongs_to_one_organization(client, accounts) -> None:
    key = await accounts.api_key("admin", "acme")
    await accounts.make_org("globex")
    response = await client.get("/api/v1/orgs/globex", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 404
    assert response.json()["code"] == "org_not_found"


async def test_revoking_a_key_takes_effect_at_once(client, auth_headers, accounts) -> None:
    key = await accounts.api_key("viewer")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 200
    key_id = (await client.get(KEYS, headers=await auth_headers("admin"))).json()["items"][0]["id"]
    assert (
        await client.delete(f"{KEYS}/{key_id}", headers=await auth_headers("admin"))
    ).status_code == 204
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 401
    assert (await client.get(KEYS, headers=await auth_headers("admin"))).json()["total"] == 0


async def test_an_expired_key_is_refused(client, accounts) -> None:
    key = await accounts.api_key("viewer", expires_at=utcnow() + timedelta(seconds=1.5))
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 200
    await asyncio.sleep(2)  # the key's own expiry passes (its access was cached meanwhile)
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 401


async def test_an_expiry_in_the_past_is_refused_at_creation(client, auth_headers) -> None:
    response = await client.post(
        KEYS,
        json={"name": "old", "role": "viewer", "expires_at": "2000-01-01T00:00:00Z"},
        headers=await auth_headers("admin"),
    )
    assert response.status_code == 400


async def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(client, accounts) -> None:
    key = await accounts.api_key("viewer")
    forged = key[:12] + "A" * (len(key) - 12)
    response = await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_last_used_at_is_updated_at_most_once_a_minute(client, accounts) -> None:
    key = await accounts.api_key("viewer")
    headers = {"Authorization": f"Bearer {key}"}
    await client.get("/api/v1/orgs/acme", headers=headers)
    async with accounts.db.session() as session:
        first = await session.scalar(select(ApiKey.last_used_at))
    await client.get("/api/v1/orgs/acme", headers=headers)
    async with accounts.db.session() as session:
        second = await session.scalar(select(ApiKey.last_used_at))
        assert first is not None and second == first
        await session.execute(update(ApiKey).values(last_used_at=first - timedelta(minutes=2)))
    grants.clear()  # what 30 seconds do: cached access lapses, the key is looked up again
    await client.get("/api/v1/orgs/acme", headers=headers)
    async with accounts.db.session() as session:
        third = await session.scalar(select(ApiKey.last_used_at))
    assert third is not None and third > first


async def test_a_key_stops_working_when_its_creator_leaves_the_organization(
    client, auth_headers, accounts
) -> None:
    admin = await auth_headers("admin")
    key = (await client.post(KEYS, json={"name": "mine", "role": "editor"}, headers=admin)).json()[
        "key"
    ]
    user = await accounts.make_user("admin@acme.test")
    owner = await auth_headers("owner")
    assert (
        await client.delete(f"/api/v1/orgs/acme/members/{user.id}", headers=owner)
    ).status_code == 204
    response = await client.get("/api/v1/orgs/acme", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


async def test_api_keys_cannot_act_as_users(client, api_key_headers) -> None:
    headers = await api_key_headers("owner")
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 403
    created = await client.post(
        "/api/v1/orgs", json={"slug": "keyorg", "name": "K"}, headers=headers
    )
    assert created.status_code == 403


async def test_an_api_key_cannot_mint_keys_or_invitations_that_would_outlive_its_revocation(
    client, api_key_headers
) -> None:
    headers = await api_key_headers("owner")
    minted = await client.post(KEYS, json={"name": "child", "role": "viewer"}, headers=headers)
    assert minted.status_code == 403, minted.text
    assert minted.json()["code"] == "users_only"
    invited = await client.post(
        "/api/v1/orgs/acme/members",
        json={"email": "x@example.com", "role": "admin"},
        headers=headers,
    )
    assert invited.status_code == 403, invited.text
    assert invited.json()["code"] == "users_only"
    # Reading and revoking stay open to an admin key.
    assert (await client.get(KEYS, headers=headers)).status_code == 200
