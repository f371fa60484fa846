"""Collection against a real 3-node cluster: the numbers NATS reports reach ClickHouse."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import nats
import pytest

from services.embedded.process import free_port
from shared.config import MetricsSettings
from shared.metrics.collector import CollectTarget, collect_cluster, cycle_time
from shared.metrics.queries import SeriesQuery, read_series
from shared.nats import ConnectionSpec
from tests.shared.metrics.conftest import (
    ORG,
    add_stream,
    cycle,
    jsz_agrees,
    publish,
    pull_subscribe,
    settled,
    target_for,
)


async def make_backlog(nats_cluster, stream: str = "ORDERS", replicas: int = 3) -> None:
    """100 messages, 40 fetched and left unacknowledged by durable consumer WORKER."""
    nc = await nats_cluster.connect()
    try:
        js = nc.jetstream()
        await add_stream(js, name=stream, subjects=[f"{stream.lower()}.>"], num_replicas=replicas)
        await publish(nc, f"{stream.lower()}.new", 100)
        sub = await pull_subscribe(js, f"{stream.lower()}.>", "WORKER", stream)
        fetched = await sub.fetch(40, timeout=5)
        assert len(fetched) == 40
        await settled(js, stream, "WORKER", pending=60)
        await jsz_agrees(nats_cluster, stream, "WORKER", num_pending=60, num_ack_pending=40)
    finally:
        await nc.close()


async def consumer_numbers(
    clickhouse, stream: str = "ORDERS", cluster_id: str = "cluster-1", consumer: str = "WORKER"
) -> dict:
    now = datetime.now(UTC)
    got = await read_series(
        clickhouse,
        SeriesQuery(
            ORG,
            cluster_id,
            stream,
            consumer,
            ("num_pending", "num_ack_pending", "total_lag", "time_lag_seconds"),
            now - timedelta(hours=3),
            now + timedelta(minutes=5),
        ),
        raw_interval=10,
    )
    return {name: points[-1][1] if points else None for name, points in got["series"].items()}


@pytest.mark.parametrize("system", [True, False], ids=["jsz", "listing"])
async def test_100_published_and_40_fetched_unacked_read_as_60_pending_and_40_ack_pending(
    nats_cluster, clickhouse, pool, system
) -> None:
    await make_backlog(nats_cluster)
    # A cycle a minute after the messages were written: their age is at least a minute.
    ts = cycle_time(10, time.time() + 70)
    result = await collect_cluster(clickhouse, pool, target_for(nats_cluster, system=system), ts)

    assert result.source == ("jsz" if system else "list")
    labels = await clickhouse.query(
        "SELECT DISTINCT account, stream, consumer FROM jetdeck_test.consumer_samples"
    )
    assert labels == [("APP", "ORDERS", "WORKER")]  # the same labels either way
    numbers = await consumer_numbers(clickhouse)
    assert numbers["num_pending"] == 60
    assert numbers["num_ack_pending"] == 40
    assert numbers["total_lag"] == 100
    assert numbers["time_lag_seconds"] >= 60


async def test_a_jsz_cycle_is_one_request_answered_by_every_server(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    for i in range(20):
        await add_stream(nc.jetstream(), name=f"S{i}", subjects=[f"s{i}.>"], num_replicas=3)
    await nc.close()
    await collect_cluster(clickhouse, pool, target_for(nats_cluster), cycle(0))
    # After the first cycle has learnt the registered account: one request, a reply per server.
    result = await collect_cluster(clickhouse, pool, target_for(nats_cluster), cycle(1))

    assert (result.requests, result.replies) == (1, 3)
    assert result.streams == 20
    assert result.written["stream_samples"] == 20


async def test_servers_are_recorded_with_version_rtt_and_usage_against_limits(
    nats_cluster, clickhouse, pool
) -> None:
    await make_backlog(nats_cluster)
    ts = cycle()
    await collect_cluster(clickhouse, pool, target_for(nats_cluster), ts)

    rows = await clickhouse.query(
        "SELECT server, reachable, version, rtt_ms, memory_limit, storage_limit, storage_used "
        "FROM jetdeck_test.server_samples ORDER BY server"
    )
    assert [r[0] for r in rows] == ["n1", "n2", "n3"]
    assert all(r[1] == 1 and r[2].startswith("2.") and r[3] > 0 for r in rows)
    assert all(r[4] > 0 and r[5] > 0 for r in rows)
    assert sum(r[6] for r in rows) > 0  # three replicas of ORDERS on file storage
    accounts = await clickhouse.query(
        "SELECT account, streams, consumers FROM jetdeck_test.account_samples"
    )
    assert accounts == [("APP", 1, 1)]


async def test_an_unreachable_cluster_is_recorded_as_unreachable(clickhouse, pool) -> None:
    nowhere = ConnectionSpec((f"nats://127.0.0.1:{free_port()}",))
    target = CollectTarget(ORG, "gone", "gone", nowhere, nowhere)
    result = await collect_cluster(clickhouse, pool, target, cycle())

    assert result.source == "unreachable"
    assert result.reachable is False
    rows = await clickhouse.query(
        "SELECT cluster_id, reachable, error FROM jetdeck_test.server_samples"
    )
    assert len(rows) == 1
    assert rows[0][:2] == ("gone", 0)
    assert "gone" in rows[0][2]


async def test_a_stopped_node_shows_as_an_unreachable_server(
    nats_cluster, clickhouse, pool
) -> None:
    stopped = nats_cluster.stop_node(2)
    result = await collect_cluster(clickhouse, pool, target_for(nats_cluster), cycle())

    assert result.source == "jsz"
    rows = dict(await clickhouse.query("SELECT server, reachable FROM jetdeck_test.server_samples"))
    assert rows[stopped.name] == 0
    assert sorted(v for k, v in rows.items() if k != stopped.name) == [1, 1]
    await whole_again(nats_cluster)


async def whole_again(nats_cluster) -> None:
    """Restart the stopped node and wait until R3 streams and consumers can be made again,
    so the tests after this one start on a whole cluster."""
    nats_cluster.restart_stopped_nodes()
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    try:
        for _ in range(150):
            try:
                await js.add_stream(name="PROBE", subjects=["probe.>"], num_replicas=3)
                await js.add_consumer("PROBE", durable_name="PROBE")
                await js.delete_stream("PROBE")
                return
            except (nats.js.errors.Error, nats.errors.TimeoutError):
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def test_wrong_system_credentials_fall_back_to_listing(
    nats_cluster, clickhouse, pool
) -> None:
    good = target_for(nats_cluster)
    bad_system = ConnectionSpec(good.spec.servers, good.spec.auth)  # the app user has no $SYS
    await make_backlog(nats_cluster)
    target = CollectTarget(ORG, "cluster-1", "c", good.spec, bad_system)
    result = await collect_cluster(clickhouse, pool, target, cycle())

    assert result.source == "list"
    assert (await consumer_numbers(clickhouse))["num_pending"] == 60


async def test_a_consumer_led_by_another_server_than_its_stream_still_reads_60_pending(
    nats_cluster, clickhouse, pool
) -> None:
    await make_backlog(nats_cluster)
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    for _ in range(20):  # move the consumer's leadership off the stream leader's server
        stream_leader = (await js.stream_info("ORDERS")).cluster.leader
        consumer_leader = (await js.consumer_info("ORDERS", "WORKER")).cluster.leader
        if consumer_leader and consumer_leader != stream_leader:
            break
        await nc.request("$JS.API.CONSUMER.LEADER.STEPDOWN.ORDERS.WORKER", b"", timeout=5)
        await asyncio.sleep(0.5)
    await settled(js, "ORDERS", "WORKER", pending=60)
    await nc.close()
    assert consumer_leader != stream_leader

    await collect_cluster(clickhouse, pool, target_for(nats_cluster), cycle())

    numbers = await consumer_numbers(clickhouse)
    assert (numbers["num_pending"], numbers["num_ack_pending"]) == (60, 40)


async def test_time_lag_is_read_for_the_largest_backlogs_only_within_the_budget(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="BIG", subjects=["big.>"], num_replicas=1)
    await add_stream(js, name="SMALL", subjects=["small.>"], num_replicas=1)
    await add_stream(js, name="IDLE", subjects=["idle.>"], num_replicas=1)
    await publish(nc, "big.x", 20)
    await publish(nc, "small.x", 2)
    for stream in ("BIG", "SMALL", "IDLE"):
        await pull_subscribe(js, f"{stream.lower()}.>", "READER", stream)
    await nc.close()

    target, budget = target_for(nats_cluster), MetricsSettings(time_lag_reads=1)
    await collect_cluster(clickhouse, pool, target, cycle(0), budget)  # learns the account
    ts = cycle_time(10, time.time() + 70)
    result = await collect_cluster(clickhouse, pool, target, ts, budget)

    lags = dict(
        await clickhouse.query(
            "SELECT stream, time_lag_seconds FROM jetdeck_test.consumer_samples "
            "WHERE ts = toDateTime({ts:UInt32}, 'UTC')",
            {"ts": int(ts.timestamp())},
        )
    )
    assert lags["BIG"] is not None and lags["BIG"] >= 60
    assert lags["SMALL"] is None  # over the budget this cycle: unknown, not zero
    assert lags["IDLE"] == 0.0  # no backlog
    # The JSZ round, then for BIG one MSG.GET: JSZ carries the consumer's config, so its
    # filter is known without a CONSUMER.INFO.
    assert result.requests == 2


async def test_an_account_the_server_would_not_tell_is_not_asked_again_every_cycle(
    nats_cluster, clickhouse, pool, monkeypatch
) -> None:
    from shared.metrics import collector

    asked: list[str] = []

    async def no_answer(client) -> None:  # no permission for $SYS.REQ.USER.INFO, or a timeout
        asked.append(client.label)
        return None

    monkeypatch.setattr(collector, "connected_account", no_answer)
    target = target_for(nats_cluster, system=False, cluster_id="untold")
    first = await collect_cluster(clickhouse, pool, target, cycle(0))
    second = await collect_cluster(clickhouse, pool, target, cycle(1))

    assert asked == ["untold"]  # learnt once, like an account that was told
    assert (first.source, second.source) == ("list", "list")
    assert second.requests == first.requests - 1
