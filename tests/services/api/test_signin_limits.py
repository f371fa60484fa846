"""Sign-in limits hold under concurrency, and forwarded headers count only from trusted
proxies (README, Accounts and access)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from shared.accounts.models import Login
from tests.fixtures.jetstream import serving

LOGIN = "/api/v1/auth/login"


async def test_forty_concurrent_wrong_passwords_get_at_most_ten_guesses(
    served_app: str, make_user: Any
) -> None:
    await make_user("ada@example.com")

    async with httpx.AsyncClient(base_url=served_app, timeout=30) as http:

        async def guess(i: int) -> int:
            response = await http.post(
                LOGIN, json={"email": "ada@example.com", "password": f"wrong password {i}"}
            )
            return int(response.status_code)

        statuses = Counter(await asyncio.gather(*(guess(i) for i in range(40))))

    assert statuses[401] <= 10, statuses
    assert statuses[429] >= 30, statuses
    assert set(statuses) <= {401, 429}


async def test_a_right_password_does_not_use_up_an_attempt(client: Any, make_user: Any) -> None:
    await make_user("ada@example.com")
    from tests.fixtures.accounts import PASSWORD

    for _ in range(12):
        ok = await client.post(LOGIN, json={"email": "ada@example.com", "password": PASSWORD})
        assert ok.status_code == 200


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


async def _sign_in_behind_a_proxy(base_url: str, accounts: Any) -> tuple[Any, Any, str | None]:
    """(API sign-in response, web sign-in response, the IP the login was recorded with)."""
    from tests.fixtures.accounts import PASSWORD, csrf_token

    async with httpx.AsyncClient(base_url=base_url, headers=FORWARDED, timeout=30) as http:
        api = await http.post(LOGIN, json={"email": "ada@example.com", "password": PASSWORD})
        form = await http.get("/login", headers={"Accept": "text/html"})
        # The browser sent this cookie over TLS to the proxy; httpx speaks plain http here.
        nonce = form.headers["set-cookie"].split(";", 1)[0]
        http.cookies.clear()
        web = await http.post(
            "/login",
            data={
                "email": "ada@example.com",
                "password": PASSWORD,
                "csrf_token": csrf_token(form.text),
            },
            headers={"Accept": "text/html", "Cookie": nonce},
        )
    async with accounts.db.session() as session:
        ip = await session.scalar(select(Login.ip).order_by(Login.created_at).limit(1))
    return api, web, ip


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    settings: Any, accounts: Any, make_user: Any
) -> None:
    await make_user("ada@example.com")
    with serving(settings) as base_url:
        api, web, ip = await _sign_in_behind_a_proxy(base_url, accounts)

    assert api.status_code == 200
    assert ip == "127.0.0.1"
    assert "strict-transport-security" not in api.headers
    assert "secure" not in web.headers["set-cookie"].lower()


async def test_behind_a_trusted_tls_proxy_the_client_ip_counts_and_the_cookie_is_secure(
    settings: Any, accounts: Any, make_user: Any
) -> None:
    await make_user("ada@example.com")
    trusted = settings.model_copy(
        update={"app": settings.app.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]})}
    )
    with serving(trusted) as base_url:
        api, web, ip = await _sign_in_behind_a_proxy(base_url, accounts)

    assert api.status_code == 200
    assert ip == "203.0.113.7"
    assert api.headers["strict-transport-security"].startswith("max-age=")
    session_cookie = next(
        c for c in web.headers.get_list("set-cookie") if c.startswith("jetdeck_session=")
    )
    assert "secure" in session_cookie.lower()


async def test_sign_in_works_while_every_default_worker_thread_is_stuck(
    client: Any, make_user: Any
) -> None:
    """A hung ClickHouse call (chDB and clickhouse-connect run in the default executor's
    threads) must not starve password hashing, which has threads of its own."""
    import threading

    from tests.fixtures.accounts import PASSWORD

    await make_user("ada@example.com")
    release = threading.Event()
    stuck = [asyncio.create_task(asyncio.to_thread(release.wait, 60)) for _ in range(64)]
    try:
        response = await asyncio.wait_for(
            client.post(LOGIN, json={"email": "ada@example.com", "password": PASSWORD}), 30
        )
    finally:
        release.set()
        await asyncio.gather(*stuck)
    assert response.status_code == 200, response.text
