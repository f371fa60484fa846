"""Every read path holds a bounded number of bytes whatever the payload size: a page stops at
its byte budget (and says where to continue), and each direct-get batch asks NATS for at most
`batch_bytes`. Measured with tracemalloc over a dozen ~900 KB messages."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from shared.messages import services
from shared.nats import ClusterClient, ConnectionPool

BIG = 900_000  # under nats-server's default max_payload (1 MB)
COUNT = 12
MIB = 1024 * 1024


@pytest.fixture(params=[True, False], ids=["direct-get", "msg-get"])
async def big_stream(request: Any, nats_server: Any) -> AsyncIterator[ClusterClient]:
    nc = await nats_server.connect()
    try:
        js = nc.jetstream()
        await js.add_stream(name="BIG", subjects=["big.>"], allow_direct=request.param)
        for i in range(COUNT):
            await js.publish("big.x", bytes([65 + i % 26]) * BIG)
    finally:
        await nc.close()
    pool = ConnectionPool(timeout=10)
    spec = nats_server.spec()
    yield await pool.client("big", spec)
    await pool.close()


async def peak_of(call: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = await call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("direction", ["forward", "backward"])
async def test_a_page_of_big_messages_stops_at_its_byte_budget_and_continues(
    big_stream: ClusterClient, direction: str
) -> None:
    page, peak = await peak_of(
        lambda: services.browse(
            big_stream,
            "BIG",
            limit=1000,
            direction=direction,
            page_bytes=2 * MIB,
            batch_bytes=MIB,
        )
    )
    seqs = [m.seq for m in page.messages]
    assert len(seqs) == 3  # 3 x 900 KB reach the 2 MiB budget
    assert page.next_seq == (4 if direction == "forward" else COUNT - 3)
    # The whole stream is ~10.8 MB and a page of all of it held each message 3+ times.
    assert peak < 16 * MIB
    rest = await services.browse(
        big_stream, "BIG", limit=1000, direction=direction, start_seq=page.next_seq,
        page_bytes=2 * MIB,
    )  # fmt: skip
    assert rest.messages[0].seq == (4 if direction == "forward" else COUNT - 3)


async def test_an_export_reads_big_messages_a_bounded_batch_at_a_time(
    big_stream: ClusterClient,
) -> None:
    async def run() -> int:
        lines = 0
        async for chunk in await services.export(big_stream, "BIG", batch_bytes=MIB):
            lines += chunk.count(b"\n")
        return lines

    lines, peak = await peak_of(run)
    assert lines == COUNT
    assert peak < 12 * MIB  # one batch of every message alone was ~10.8 MB, held with the rest


async def test_a_search_over_big_messages_stops_at_its_byte_budget(
    big_stream: ClusterClient,
) -> None:
    page, peak = await peak_of(
        lambda: services.browse(big_stream, "BIG", limit=1000, q="A", page_bytes=2 * MIB)
    )
    assert [m.seq for m in page.messages] == [1]  # only the first payload has an "A"
    assert page.scanned == COUNT and page.next_seq is None
    assert peak < 16 * MIB
