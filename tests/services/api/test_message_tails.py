"""Live tails through the API (SSE): capped per user with a clear 429, and ended with an
`end` event when the stream is deleted instead of polling for ever."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest

from tests.fixtures.services import make_settings


@pytest.fixture
def settings(database_url: str, redis_url: str, clickhouse_migrated: str) -> Any:
    return make_settings(
        database={"url": database_url},
        redis={"url": redis_url},
        clickhouse={"url": clickhouse_migrated},
        messages={"tails_per_user": 2, "tail_poll_seconds": 0.05},
    )


async def test_a_users_tails_beyond_the_cap_answer_429_saying_why(
    on_server: Any, served_app: str
) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    url = on_server.base + "/streams/S/messages/tail"
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=served_app, timeout=10))
        for _ in range(2):
            response = await stack.enter_async_context(
                http.stream("GET", url, headers=on_server.viewer)
            )
            assert response.status_code == 200
        third = await http.get(url, headers=on_server.viewer)
        other_user = await stack.enter_async_context(
            http.stream("GET", url, headers=on_server.headers)
        )
        assert other_user.status_code == 200  # the cap is per user
    assert third.status_code == 429
    assert third.json()["code"] == "too_many_tails"
    assert "JETDECK_MESSAGES_TAILS_PER_USER" in third.json()["detail"]
    assert int(third.headers["retry-after"]) > 0


async def test_a_tail_ends_with_an_end_event_when_its_stream_is_deleted(
    on_server: Any, served_app: str
) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    events: list[tuple[str, Any]] = []
    subscribed, received = asyncio.Event(), asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=served_app, timeout=10) as http,
            http.stream(
                "GET", on_server.base + "/streams/S/messages/tail", headers=on_server.viewer
            ) as response,
        ):
            event = "message"
            assert response.status_code == 200, await response.aread()
            subscribed.set()  # the tail is in place once the response has begun
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    events.append((event, json.loads(line[5:])))
                    received.set()
        # The server ended the response itself.

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 10)
    published = await on_server.post("/streams/S/messages", json={"subject": "s.a", "text": "x"})
    assert published.status_code == 201
    await asyncio.wait_for(received.wait(), 10)
    deleted = await on_server.delete("/streams/S")
    assert deleted.status_code in (200, 204), deleted.text
    await asyncio.wait_for(listener, 10)
    assert [e for e, _ in events] == ["message", "end"]
    assert events[0][1]["text"] == "x"
    assert events[-1][1] == {"reason": "stream_deleted"}
