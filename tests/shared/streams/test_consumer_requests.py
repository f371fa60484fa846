"""How many JetStream requests the consumer calls send, against a real nats-server: no
look-up before the request that answers an unknown stream or consumer with 404 itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.nats import ClusterClient, ConnectionPool
from shared.streams import consumers


@pytest.fixture
async def recorded(nats_server) -> AsyncIterator[tuple[ClusterClient, list[str]]]:
    """A real client with stream S and consumer c, recording each JetStream API it calls."""
    pool = ConnectionPool()
    client = await pool.client(
        "c1",
        nats_server.spec(),
    )
    await client.js("STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"], "storage": "memory"})
    await client.js("CONSUMER.CREATE.S.c", {"stream_name": "S", "config": {"durable_name": "c"}})
    apis: list[str] = []
    real_request = client.request_raw

    async def request_raw(subject: str, *args: Any, **kwargs: Any) -> Any:
        apis.append(subject.removeprefix("$JS.API."))  # every request that goes to the server
        return await real_request(subject, *args, **kwargs)

    client.request_raw = request_raw  # type: ignore[method-assign]
    yield client, apis
    await pool.close()


async def test_listing_consumers_is_one_list_request(recorded) -> None:
    client, apis = recorded
    items, total = await consumers.list_consumers(client, "S")
    assert [c["name"] for c in items] == ["c"] and total == 1
    assert apis == ["CONSUMER.LIST.S"]


async def test_pausing_is_the_pause_then_the_info_it_answers_with(recorded) -> None:
    client, apis = recorded
    info = await consumers.pause_consumer(client, "S", "c", "2999-01-01T00:00:00Z")
    assert info["paused"] is True
    assert apis == ["CONSUMER.PAUSE.S.c", "CONSUMER.INFO.S.c"]


def test_the_last_active_key_sorts_as_the_time_does() -> None:
    # NATS trims a time's trailing zeros: as text, "…:00Z" would sort after "…:00.5Z".
    whole = {"delivered": {"last_active": "2026-01-01T00:00:00Z"}}
    half = {"delivered": {"last_active": "2026-01-01T00:00:00.5Z"}}
    acked = {"ack_floor": {"last_active": "2026-01-01T00:00:00.45Z"}}  # never delivered since
    never = {"delivered": {"last_active": "0001-01-01T00:00:00Z"}}
    assert sorted([half, acked, never, whole], key=consumers.last_active) == [
        never, whole, acked, half,
    ]  # fmt: skip
