"""NATS failing under the API: a node SIGKILLed mid-traffic, every server of a cluster gone,
a server that accepts connections and never speaks. Real nats-server processes (the session's
single node and 3-node cluster, restarted after each test), the app under uvicorn in a thread
and an HTTP client whose timeout is `BOUND`: a request that has no answer by then fails the
test, whatever the app's event loop is doing.

The promise (API.md): a request either succeeds (through another node) or answers 503 naming
the cluster within `JETDECK_NATS_REQUEST_TIMEOUT`; a cluster that is down holds up no other.

Run alone: `pytest tests/services/api/test_faults_nats.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.app import create_app
from services.embedded.process import free_port
from tests.fixtures.jetstream import ORG_PATH
from tests.fixtures.services import make_settings
from tests.fixtures.world import serve

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT = 2.0
# A request must be answered by then: its own timeout, a reconnect, and a slow machine.
BOUND = REQUEST_TIMEOUT * 2 + 4


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """Replaces the in-process client: the app on a real socket, so the bound holds."""
    with serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=BOUND, trust_env=False) as http:
            yield http


@pytest.fixture
def settings(database_url: str, redis_url: str, clickhouse_migrated: str) -> Any:
    return make_settings(
        database={"url": database_url},
        redis={"url": redis_url},
        clickhouse={"url": clickhouse_migrated},
        nats={"request_timeout": REQUEST_TIMEOUT},
    )


def sigkill(node: Any) -> None:
    process = node.process.process
    process.send_signal(signal.SIGKILL)
    process.wait(10)


async def answered(request: Any) -> Any:
    """The response, or a failure naming the request that was not answered in time."""
    try:
        return await request
    except httpx.TimeoutException:
        pytest.fail(f"no answer within {BOUND} s: the request queued up or hung")


def connected_port(app: Any) -> int:
    """The port of the server the app's connection to the (only) cluster uses."""
    pool = app.state.backends.nats
    entries = list(pool._clients.values())
    assert entries, "the app has no NATS connection yet"
    return int(entries[0][1].nc.connected_url.port)


def unavailable_or_ok(response: Any) -> bool:
    if response.status_code == 503:
        return response.json().get("code") in {"cluster_timeout", "cluster_unreachable"} or bool(
            response.json().get("detail")
        )
    return 200 <= response.status_code < 300


async def test_a_node_killed_while_browsing_and_publishing_leaves_every_request_answered(
    on_cluster: Any, nats_cluster: Any, app: Any
) -> None:
    await on_cluster.create_stream("R3", num_replicas=3, storage="file")
    assert (await on_cluster.get("/streams/R3/messages")).status_code == 200
    port = connected_port(app)
    victim = next(i for i, node in enumerate(nats_cluster.nodes) if node.port == port)

    async def publish(i: int) -> Any:
        return await on_cluster.post(
            "/streams/R3/messages", json={"subject": f"r3.{i}", "text": str(i)}
        )

    async def browse() -> Any:
        return await on_cluster.get("/streams/R3/messages", params={"limit": 10})

    before = [await answered(publish(i)) for i in range(5)]
    assert all(r.status_code == 201 for r in before)
    sigkill(nats_cluster.nodes[victim])
    after: list[Any] = []
    recovered = False
    for i in range(5, 40):  # a few rounds, then until one fully succeeds (leaders re-elected)
        round_ = await asyncio.gather(answered(publish(i)), answered(browse()))
        after += round_
        if i >= 10 and [r.status_code for r in round_] == [201, 200]:
            recovered = True
            break
    failures = [f"{r.status_code} {r.text[:200]}" for r in after if not unavailable_or_ok(r)]
    assert failures == []
    assert recovered, "no request succeeded through another node"
    assert connected_port(app) != port


async def test_a_cluster_whose_servers_are_all_gone_answers_503_and_holds_up_no_other(
    on_cluster: Any, register_cluster: Any, nats_server: Any, client: Any
) -> None:
    gone = await register_cluster(nats_server, "gone")
    assert (await gone.get("/streams")).status_code == 200  # connected, then every server dies
    sigkill(nats_server.nodes[0])
    results = await asyncio.gather(
        *(answered(gone.get("/streams")) for _ in range(6)),
        *(answered(on_cluster.get("/streams")) for _ in range(3)),
    )
    down, other = results[:6], results[6:]
    assert [r.status_code for r in down] == [503] * 6
    assert all("gone" in r.json()["detail"] for r in down)
    assert [r.status_code for r in other] == [200] * 3


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    port = free_port()
    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_concurrent_requests_to_a_silent_cluster_each_answer_503_in_time(
    on_cluster: Any, client: Any, auth_headers: Any
) -> None:
    async with silent_server() as port:
        body = {"name": "silent", "servers": [f"nats://127.0.0.1:{port}"]}
        admin = await auth_headers("admin")
        assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201
        viewer = await auth_headers("viewer")
        results = await asyncio.gather(
            *(answered(client.get(f"{ORG_PATH}/silent/streams", headers=viewer)) for _ in range(6)),
            answered(on_cluster.get("/streams")),
        )
    assert [r.status_code for r in results[:6]] == [503] * 6
    assert results[6].status_code == 200


async def test_a_cluster_never_reached_answers_503_naming_it(
    client: Any, auth_headers: Any
) -> None:
    body = {"name": "nowhere", "servers": [f"nats://127.0.0.1:{free_port()}"]}
    admin = await auth_headers("admin")
    assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201
    response = await answered(
        client.get(f"{ORG_PATH}/nowhere/streams", headers=await auth_headers("viewer"))
    )
    assert response.status_code == 503
    assert "nowhere" in response.json()["detail"]
