"""A backing service that is down or frozen answers 503 naming it, never the catch-all 500,
and quickly (socket timeouts, not the client's patience)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.app import create_app
from tests.fixtures.accounts import PASSWORD

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def frozen_port() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never says a word (a frozen server)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with(settings: Any, **sections: dict[str, Any]) -> Any:
    update = {
        name: getattr(settings, name).model_copy(update=values) for name, values in sections.items()
    }
    return settings.model_copy(update=update)


async def _sign_in(settings: Any) -> Any:
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        return await asyncio.wait_for(
            client.post(LOGIN, json={"email": "ada@example.com", "password": PASSWORD}), 30
        )


@pytest.mark.parametrize("state", ["frozen", "stopped"])
async def test_sign_in_answers_503_when_redis_is_frozen_or_stopped(
    settings: Any, make_user: Any, frozen_port: int, state: str
) -> None:
    await make_user("ada@example.com")
    port = frozen_port if state == "frozen" else closed_port()
    response = await _sign_in(_with(settings, redis={"url": f"redis://127.0.0.1:{port}/0"}))
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "redis_unavailable"


@pytest.mark.parametrize("state", ["frozen", "stopped"])
async def test_sign_in_answers_503_when_postgresql_is_frozen_or_stopped(
    settings: Any, frozen_port: int, state: str
) -> None:
    port = frozen_port if state == "frozen" else closed_port()
    url = f"postgresql+asyncpg://jetdeck@127.0.0.1:{port}/jetdeck"
    response = await _sign_in(_with(settings, database={"url": url}))
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
