"""An unreachable cluster answers 503 within the request timeout, however many requests wait:
one connect attempt is shared by every waiter, and its failure is remembered briefly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from shared import errors
from shared.nats import Auth, ConnectionPool, ConnectionSpec


class SilentServer:
    """A loopback port that accepts connections and never says a word (not even INFO)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.sock.setblocking(False)

    def drain(self) -> int:
        """Accept what is pending; how many connections were made so far."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return len(self.accepted)
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


async def test_six_concurrent_requests_to_a_silent_cluster_share_one_connect_attempt(
    silent: SilentServer,
) -> None:
    pool = ConnectionPool(timeout=1.0, connect_timeout=15.0)
    spec = ConnectionSpec(servers=(f"nats://127.0.0.1:{silent.port}",))
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def one() -> tuple[BaseException | None, float]:
        try:
            await pool.client("silent", spec, label="silent")
        except errors.Unavailable as exc:
            return exc, loop.time() - started
        return None, loop.time() - started

    results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(6))), 10)
    await pool.close()
    assert all(isinstance(exc, errors.Unavailable) for exc, _ in results)
    assert {exc.code for exc, _ in results if isinstance(exc, errors.Unavailable)} == {
        "cluster_unreachable"
    }
    # One attempt for all six (the old per-cluster lock made each wait for the one before).
    assert silent.drain() == 1
    # Each answered within the request timeout, not one timeout more than the one before.
    slowest = max(elapsed for _, elapsed in results)
    assert slowest < 2 * pool.timeout


async def test_a_failed_connect_answers_at_once_for_a_while_then_is_tried_again(
    silent: SilentServer,
) -> None:
    pool = ConnectionPool(timeout=0.5, failure_seconds=0.3)
    spec = ConnectionSpec(servers=(f"nats://127.0.0.1:{silent.port}",))
    with pytest.raises(errors.Unavailable):
        await pool.client("silent", spec)
    for _ in range(5):
        with pytest.raises(errors.Unavailable):
            await pool.client("silent", spec)
    assert silent.drain() == 1  # remembered: no new attempt
    await asyncio.sleep(0.35)
    with pytest.raises(errors.Unavailable):
        await pool.client("silent", spec)
    await pool.close()
    assert silent.drain() == 2


async def test_a_silent_cluster_does_not_hold_up_another_cluster(
    silent: SilentServer, nats_server
) -> None:
    pool = ConnectionPool(timeout=1.0)
    dead = ConnectionSpec(servers=(f"nats://127.0.0.1:{silent.port}",))
    live = ConnectionSpec(
        servers=tuple(nats_server.servers),
        auth=Auth(kind="user_password", username=nats_server.user, password=nats_server.password),
    )
    waiting = [asyncio.create_task(pool.client("dead", dead)) for _ in range(3)]
    await asyncio.sleep(0)
    client = await pool.client("live", live)
    info = await client.js("INFO")
    done_first = not any(task.done() for task in waiting)
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    await pool.close()
    assert "memory" in info
    assert done_first  # the live cluster answered while the dead one was still connecting
    assert all(isinstance(o, errors.Unavailable) for o in outcomes)


async def test_a_silent_first_server_is_skipped_for_the_next_one_within_the_timeout(
    silent: SilentServer, nats_server
) -> None:
    """The silent server gets its share of the request timeout, not all of it: a request
    reaches the healthy server listed after it, and reconnects know both."""
    pool = ConnectionPool(timeout=2.0, connect_timeout=15.0, randomize=False)
    silent_url = f"nats://127.0.0.1:{silent.port}"
    spec = ConnectionSpec(
        servers=(silent_url, *nats_server.servers),
        auth=Auth(kind="user_password", username=nats_server.user, password=nats_server.password),
    )
    try:
        client = await pool.client("c1", spec)
        info = await client.js("INFO")
        pool_ports = {uri.port for uri in client.nc.servers}
    finally:
        await pool.close()
    assert "memory" in info
    assert silent.drain() == 1  # tried first, once
    assert silent.port in pool_ports and len(pool_ports) == 1 + len(nats_server.servers)


async def test_every_server_silent_is_unreachable_and_each_was_tried() -> None:
    servers = [SilentServer(), SilentServer()]
    pool = ConnectionPool(timeout=1.0, randomize=False)
    spec = ConnectionSpec(servers=tuple(f"nats://127.0.0.1:{s.port}" for s in servers))
    try:
        with pytest.raises(errors.Unavailable) as refused:
            await pool.client("dead", spec)
        assert refused.value.code == "cluster_unreachable"
        assert [s.drain() for s in servers] == [1, 1]
    finally:
        await pool.close()
        for server in servers:
            server.close()
