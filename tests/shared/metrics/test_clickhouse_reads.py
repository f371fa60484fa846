"""Identical reads share one chDB query while it waits its turn, and never one that began before
they arrived (shared/metrics/clickhouse.py), on the real embedded chDB. Queries are counted on
the chDB client itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.metrics.clickhouse import ClickHouse

SQL = "SELECT {n:UInt32} + 1"


@pytest.fixture
def executed(clickhouse: ClickHouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL of every query the (shared, embedded) chDB client runs during the test."""
    client, _ = clickhouse._connect()
    seen: list[str] = []
    real = client.query

    def query(sql: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(client, "query", query)
    yield seen


class HeldLock:
    """chDB's lock held by another thread (as a long insert would hold it) until released."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.lock = clickhouse._connect()[1]
        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        with self.lock:
            self.held.set()
            self.release.wait(30)

    async def __aenter__(self) -> HeldLock:
        self.thread.start()
        await asyncio.to_thread(self.held.wait, 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join, 30)


async def test_identical_reads_waiting_their_turn_share_one_query(
    clickhouse: ClickHouse, executed: list[str]
) -> None:
    async with HeldLock(clickhouse):
        reads = [asyncio.ensure_future(clickhouse.query(SQL, {"n": 1})) for _ in range(10)]
        other = asyncio.ensure_future(clickhouse.query(SQL, {"n": 2}))
        await asyncio.sleep(0.05)  # every read has been asked for; none can begin
        assert not any(r.done() for r in [*reads, other])
    results = await asyncio.gather(*reads, other)
    assert results == [[(2,)]] * 10 + [[(3,)]]
    assert sorted(executed) == [SQL, SQL]  # one per distinct parameters


async def test_a_read_arriving_once_an_identical_one_began_runs_its_own(
    clickhouse: ClickHouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = clickhouse._connect()
    real, seen = client.query, []
    began, go_on = threading.Event(), threading.Event()

    def query(sql: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        if len(seen) == 1:
            began.set()
            go_on.wait(30)  # the first read has begun (it holds chDB's lock) and lingers
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(client, "query", query)
    first = asyncio.ensure_future(clickhouse.query(SQL, {"n": 1}))
    await asyncio.to_thread(began.wait, 30)
    second = asyncio.ensure_future(clickhouse.query(SQL, {"n": 1}))
    await asyncio.sleep(0.05)
    go_on.set()
    assert await asyncio.gather(first, second) == [[(2,)], [(2,)]]
    assert seen == [SQL, SQL]  # the second did not take the first's rows
