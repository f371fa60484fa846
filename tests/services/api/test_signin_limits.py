"""Sign-in limits hold under concurrency, and forwarded headers count only from trusted
proxies (README, Accounts and access)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

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
