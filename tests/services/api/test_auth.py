"""Sign-in, tokens, refresh rotation, sign-out (API.md, Auth)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from shared.accounts.keys import JWT_PURPOSE, subkey
from shared.accounts.users import deactivate_user
from tests.fixtures.accounts import PASSWORD, Accounts

LOGIN = "/api/v1/auth/login"


async def _login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def test_signing_in_returns_an_access_and_a_refresh_token(
    client, make_user, settings
) -> None:
    await make_user("ada@example.com", org_slug="acme", role="editor")
    response = await _login(client, "ada@example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.app.access_token_ttl == 900
    claims = jwt.decode(
        body["access_token"],
        subkey(settings, JWT_PURPOSE),
        algorithms=["HS256"],
        audience="jetdeck-api",
        issuer="jetdeck",
    )
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 900
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["orgs"] == [{"slug": "acme", "name": "Acme", "role": "editor"}]


async def test_email_is_matched_without_regard_to_case(client, make_user) -> None:
    await make_user("Grace@Example.com")
    assert (await _login(client, "grace@EXAMPLE.com")).status_code == 200


async def test_unknown_email_and_wrong_password_get_the_same_401(client, make_user) -> None:
    await make_user("ada@example.com")
    unknown = await _login(client, "nobody@example.com")
    wrong = await _login(client, "ada@example.com", "not the password at all")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_the_eleventh_wrong_password_within_a_minute_is_rate_limited(
    client, make_user
) -> None:
    await make_user("ada@example.com")
    statuses = [
        (await _login(client, "ada@example.com", f"wrong password {i}")).status_code
        for i in range(10)
    ]
    assert statuses == [401] * 10
    limited = await _login(client, "ada@example.com", "wrong password 11")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["code"] == "too_many_attempts"
    # While the limit holds, even the right password is refused.
    assert (await _login(client, "ada@example.com")).status_code == 429


async def test_failures_are_limited_per_client_ip_across_accounts(client, make_user) -> None:
    await make_user("ada@example.com")
    for i in range(10):
        await _login(client, f"someone{i}@example.com", "guessing passwords")
    assert (await _login(client, "ada@example.com")).status_code == 429


async def test_a_refresh_token_works_once_and_returns_a_new_pair(client, make_user) -> None:
    await make_user("ada@example.com")
    first = (await _login(client, "ada@example.com")).json()
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["access_token"] != first["access_token"]
    third = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert third.status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_login(client, make_user) -> None:
    await make_user("ada@example.com")
    first = (await _login(client, "ada@example.com")).json()
    rotated = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()

    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # Every token of that login is dead: the newest refresh token and both access tokens.
    latest = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert latest.status_code == 401
    for access_token in (first["access_token"], rotated["access_token"]):
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"}
        )
        assert me.status_code == 401


async def test_reusing_a_token_of_one_login_leaves_other_logins_alone(client, make_user) -> None:
    await make_user("ada@example.com")
    laptop = (await _login(client, "ada@example.com")).json()
    phone = (await _login(client, "ada@example.com")).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {phone['access_token']}"}
    )
    assert me.status_code == 200


async def test_logging_out_revokes_the_refresh_and_access_tokens(client, make_user) -> None:
    await make_user("ada@example.com")
    pair = (await _login(client, "ada@example.com")).json()
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 401


async def test_a_deactivated_user_is_refused_on_the_next_request(
    client, make_user, accounts: Accounts
) -> None:
    user = await make_user("ada@example.com", org_slug="acme", role="viewer")
    pair = (await _login(client, "ada@example.com")).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 200
    await deactivate_user(accounts.backends, user.id)
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 401
    assert (await _login(client, "ada@example.com")).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_expired_forged_and_malformed_access_tokens_are_refused(
    client, make_user, settings
) -> None:
    user = await make_user("ada@example.com")
    pair = (await _login(client, "ada@example.com")).json()
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    now = int(time.time())
    expired = jwt.encode(
        {**claims, "iat": now - 1000, "exp": now - 100}, subkey(settings, JWT_PURPOSE)
    )
    forged = jwt.encode(
        {**claims, "sub": str(uuid.uuid4())}, "some other key of enough length 123456"
    )
    unsigned = jwt.encode({**claims, "sub": str(user.id)}, None, algorithm="none")
    for token, code in (
        (expired, "token_expired"),
        (forged, "invalid_token"),
        (unsigned, "invalid_token"),
        ("garbage", "invalid_token"),
    ):
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.json()["code"] == code


async def test_the_access_token_lifetime_is_configurable(make_user, settings) -> None:
    from litestar.testing import AsyncTestClient

    from services.app import create_app

    await make_user("ada@example.com")
    short = settings.model_copy(
        update={"app": settings.app.model_copy(update={"access_token_ttl": 60})}
    )
    async with AsyncTestClient(create_app(short)) as client:
        body = (await _login(client, "ada@example.com")).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_in"] == 60
    assert claims["exp"] - claims["iat"] == 60


async def test_passwords_shorter_than_twelve_characters_are_refused(accounts: Accounts) -> None:
    import pytest

    from shared.accounts.users import create_user
    from shared.errors import Invalid

    with pytest.raises(Invalid) as refused:
        await create_user(accounts.db, "short@example.com", "eleven char")
    assert refused.value.code == "weak_password"
    assert (
        await create_user(accounts.db, "long@example.com", "twelve chars")
    ).email == "long@example.com"


async def test_email_addresses_are_unique_whatever_their_case(accounts: Accounts) -> None:
    import pytest

    from shared.accounts.users import create_user
    from shared.errors import Conflict

    await create_user(accounts.db, "ada@example.com", PASSWORD)
    with pytest.raises(Conflict):
        await create_user(accounts.db, "ADA@example.com", PASSWORD)


async def test_access_withdrawn_by_another_process_is_refused_on_the_next_request(
    client, make_user, accounts: Accounts, redis_url: str
) -> None:
    """Grants are cached per process; another process (a CLI, another replica) withdraws
    access by committing and bumping the Redis epoch, without touching this process's cache."""
    import redis.asyncio as aioredis
    from sqlalchemy import update

    from shared.accounts.authcache import EPOCH_KEY
    from shared.accounts.models import User

    await make_user("ada@example.com", org_slug="acme", role="viewer")
    pair = (await _login(client, "ada@example.com")).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 200
    async with accounts.db.session() as session:
        await session.execute(update(User).values(is_active=False))
    other_process = aioredis.Redis.from_url(redis_url)
    await other_process.incr(EPOCH_KEY)
    await other_process.aclose()
    assert (await client.get("/api/v1/orgs/acme", headers=headers)).status_code == 401
