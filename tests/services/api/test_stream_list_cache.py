"""`GET /streams` lists a cluster once for many requests, yet never misses a change made through
JetDeck, in this process or another (shared/streams/listing.py), against real NATS and Redis.

STREAM.LIST requests are counted on the test nats-server itself: a subscriber on
`$JS.API.STREAM.LIST` in the same account receives a copy of each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from services.app import create_app
from shared.backends import CLUSTER_EPOCH_PREFIX
from shared.epochs import UNREADABLE, Epoch, RedisEpochs
from shared.nats import ConnectionPool
from shared.streams import listing, services


class ListRequests:
    """The STREAM.LIST requests the test server received since `reset`."""

    def __init__(self, nc: nats.NATS) -> None:
        self.nc = nc
        self.seen = 0

    async def start(self) -> None:
        async def count(_msg: Any) -> None:
            self.seen += 1

        await self.nc.subscribe("$JS.API.STREAM.LIST", cb=count)
        await self.nc.flush()

    async def count(self) -> int:
        await self.nc.flush()  # every request routed before this PONG has reached us
        return self.seen

    async def since(self, before: int) -> int:
        return await self.count() - before


@pytest.fixture
async def list_requests(nats_server: Any) -> AsyncIterator[ListRequests]:
    nc = await nats_server.connect()
    counter = ListRequests(nc)
    await counter.start()
    yield counter
    await nc.close()


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["items"]]


async def create_directly(nats_server: Any, name: str) -> None:
    """A stream made outside JetDeck (as the nats CLI would)."""
    nc = await nats_server.connect()
    try:
        await nc.jetstream().add_stream(name=name, subjects=[f"{name.lower()}.>"], storage="memory")
    finally:
        await nc.close()


async def test_concurrent_lists_share_one_fetch_and_the_next_ones_reuse_it(
    on_server: Any, list_requests: ListRequests, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)  # no lapse however slow the machine
    await on_server.create_stream("ORDERS")
    before = await list_requests.count()
    pages = await asyncio.gather(*(on_server.get("/streams") for _ in range(20)))
    assert [names(p) for p in pages] == [["ORDERS"]] * 20
    again = await on_server.get("/streams", params={"sort": "-messages", "limit": 1})
    assert names(again) == ["ORDERS"]
    assert await list_requests.since(before) == 1


async def test_a_change_through_the_api_shows_in_the_next_list(
    on_server: Any, list_requests: ListRequests, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)
    assert names(await on_server.get("/streams")) == []
    await on_server.create_stream("ORDERS")
    assert names(await on_server.get("/streams")) == ["ORDERS"]
    published = await on_server.post(
        "/streams/ORDERS/messages", json={"subject": "orders.new", "text": "x"}
    )
    assert published.status_code == 201, published.text
    purged = await on_server.post("/streams/ORDERS/purge", json={})
    assert purged.json() == {"purged": 1}
    assert (await on_server.get("/streams")).json()["items"][0]["messages"] == 0
    consumer = await on_server.post("/streams/ORDERS/consumers", json={"durable_name": "c"})
    assert consumer.status_code == 201, consumer.text
    assert (await on_server.get("/streams")).json()["items"][0]["consumers"] == 1
    assert (await on_server.delete("/streams/ORDERS")).status_code == 204
    assert names(await on_server.get("/streams")) == []
    before = await list_requests.count()
    assert names(await on_server.get("/streams")) == []
    assert await list_requests.since(before) == 0  # nothing changed: the listing served


async def test_a_change_through_another_jetdeck_process_shows_in_the_next_list(
    on_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second app (its own pool, connections and listing cache, the same Redis and
    database) stands for the other `jetdeck serve` process."""
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)
    await on_server.create_stream("ORDERS")
    assert names(await on_server.get("/streams")) == ["ORDERS"]
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as other:
        created = await other.post(
            on_server.base + "/streams",
            json={"name": "PAYMENTS", "subjects": ["payments.>"], "storage": "memory"},
            headers=on_server.headers,
        )
        assert created.status_code == 201, created.text
        assert names(await on_server.get("/streams")) == ["ORDERS", "PAYMENTS"]
        assert names(await other.get(on_server.base + "/streams", headers=on_server.viewer)) == [
            "ORDERS",
            "PAYMENTS",
        ]
        deleted = await on_server.delete("/streams/ORDERS")
        assert deleted.status_code == 204
        assert names(await other.get(on_server.base + "/streams", headers=on_server.viewer)) == [
            "PAYMENTS"
        ]


async def test_a_change_through_the_shared_services_of_another_pool_shows_in_the_next_list(
    on_server: Any, nats_server: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker or CLI process: the shared services on a pool of its own, the same Redis."""
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)
    assert names(await on_server.get("/streams")) == []
    cluster = await on_server.client.get(on_server.base, headers=on_server.viewer)
    redis = aioredis.Redis.from_url(redis_url)
    pool = ConnectionPool(epochs=RedisEpochs(redis, CLUSTER_EPOCH_PREFIX, lapses="test"))
    try:
        client = await pool.client(
            str(cluster.json()["id"]),
            nats_server.spec(),
        )
        await services.create_stream(
            client, {"name": "ELSEWHERE", "subjects": ["elsewhere.>"], "storage": "memory"}
        )
        assert names(await on_server.get("/streams")) == ["ELSEWHERE"]
    finally:
        await pool.close()
        await redis.aclose()


async def test_a_change_outside_jetdeck_shows_once_the_listing_lapsed(
    on_server: Any, nats_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)
    assert names(await on_server.get("/streams")) == []
    await create_directly(nats_server, "OUTSIDE")
    assert names(await on_server.get("/streams")) == []  # within the TTL: as documented
    monkeypatch.setattr(listing, "LISTING_TTL", 0.0)  # as if the 5 s had passed
    assert names(await on_server.get("/streams")) == ["OUTSIDE"]


class UnreadableEpochs:
    """Epochs as they are while Redis cannot be read."""

    async def read(self, key: str) -> Epoch:
        return UNREADABLE

    async def bump(self, key: str) -> None:
        return None


async def test_with_redis_unreadable_a_listing_is_never_reused(
    nats_server: Any, list_requests: ListRequests, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "LISTING_TTL", 600.0)
    pool = ConnectionPool(epochs=UnreadableEpochs())
    try:
        client = await pool.client(
            "c1",
            nats_server.spec(),
        )
        assert await services.list_streams(client) == ([], 0)
        await create_directly(nats_server, "OUTSIDE")
        before = await list_requests.count()
        items, total = await services.list_streams(client)
        assert [s.name for s in items] == ["OUTSIDE"] and total == 1
        assert await list_requests.since(before) == 1
    finally:
        await pool.close()
