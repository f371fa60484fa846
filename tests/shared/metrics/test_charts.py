"""Chart documents for uPlot: one time column, null where no sample was collected, short
numbers, limits; the ranges a page offers; sparklines for many consumers in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import errors
from shared.metrics.charts import (
    ChartRange,
    ConsumerKey,
    chart_json,
    cluster_chart_data,
    lag_sparklines,
    most_lagging_consumers,
    object_chart,
    parse_range,
    short,
)
from shared.metrics.collector import collect_cluster
from tests.shared.metrics.conftest import ORG, target_for

DB = "jetdeck_test"


def hour_ago(hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


async def consumer_samples(
    ch: Any,
    start: datetime,
    count: int,
    *,
    skip: tuple[int, int] = (0, 0),
    consumer: str = "C0",
    every: int = 10,
) -> None:
    """`count` samples every `every` s from `start`, sample i having num_pending 100 + i,
    num_ack_pending 5 and delivering and acking 1 message a second; samples skip[0] up to
    skip[1] are never written (a collection gap)."""
    await ch.command(
        f"INSERT INTO {DB}.consumer_samples (ts, org_id, cluster_id, account, stream, consumer, "
        "num_pending, num_ack_pending, num_redelivered, num_waiting, delivered_consumer_seq, "
        "delivered_stream_seq, ack_floor_consumer_seq, ack_floor_stream_seq, delivered_total, "
        "acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + number * {every:UInt32}, 'UTC'), {org:String}, "
        "'cluster-1', 'APP', 'ORDERS', {consumer:String}, 100 + number, 5, 0, 0, "
        "number * {every:UInt32}, 0, number * {every:UInt32}, 0, number * {every:UInt32}, "
        "number * {every:UInt32}, 2.5 FROM numbers({count:UInt32}) "
        "WHERE number < {skip_from:UInt32} OR number >= {skip_to:UInt32}",
        {
            "start": int(start.timestamp()),
            "every": every,
            "org": ORG,
            "consumer": consumer,
            "count": count,
            "skip_from": skip[0],
            "skip_to": skip[1],
        },
    )


async def test_a_collection_gap_reads_as_nulls_and_no_rate_across_it(clickhouse) -> None:
    start = hour_ago(3)
    await consumer_samples(clickhouse, start, 90, skip=(30, 36))  # 15 min, 1 min missing
    rng = ChartRange(start, start + timedelta(minutes=15), "custom", False)
    doc = await object_chart(clickhouse, ORG, "cluster-1", "ORDERS", "C0", rng, raw_interval=10)

    assert doc["step"] == 10 and len(doc["x"]) == 90
    assert doc["x"][0] == int(start.timestamp()) and doc["x"][1] - doc["x"][0] == 10
    pending = doc["series"]["num_pending"]
    assert [i for i, v in enumerate(pending) if v is None] == [30, 31, 32, 33, 34, 35]
    assert pending[29] == 129 and pending[36] == 136
    acked = doc["series"]["ack_rate"]
    # No rate in the gap, none for the first sample after it, 1/s elsewhere (the first point
    # has no sample before the range to difference with).
    assert [i for i, v in enumerate(acked) if v is None] == [0, 30, 31, 32, 33, 34, 35, 36]
    assert {v for v in acked if v is not None} == {1}
    assert set(doc["series"]["time_lag_seconds"]) == {2.5, None}
    assert doc["units"] == {
        "num_pending": "msgs",
        "num_ack_pending": "msgs",
        "num_redelivered": "msgs",
        "delivered_rate": "/s",
        "ack_rate": "/s",
        "time_lag_seconds": "s",
        "time_to_drain_seconds": "s",
    }
    assert doc["limits"] == {}


async def test_a_gap_in_a_rollup_range_is_read_from_the_rollup_buckets(clickhouse) -> None:
    start = hour_ago(60)
    # Two days of 10-second samples without hours 24 to 27.
    await consumer_samples(clickhouse, start, 48 * 360, skip=(24 * 360, 27 * 360))
    rng = ChartRange(start - timedelta(days=5), start + timedelta(hours=48), "custom", False)
    doc = await object_chart(
        clickhouse,
        ORG,
        "cluster-1",
        "ORDERS",
        "C0",
        rng,
        raw_interval=10,
        limits={"num_ack_pending": 1000},
    )
    assert doc["step"] == 900 and len(doc["x"]) == 7 * 96
    pending = doc["series"]["num_pending"]
    held = [x for x, v in zip(doc["x"], pending, strict=True) if v is not None]
    assert len(held) == 45 * 4  # every quarter hour of 48 h but the 3 missing hours
    first_gap = int((start + timedelta(hours=24)).timestamp())
    after_gap = int((start + timedelta(hours=27)).timestamp())
    assert not [x for x in held if first_gap <= x < after_gap]
    i = doc["x"].index(after_gap)
    assert pending[i] is not None and doc["series"]["ack_rate"][i] is None
    assert doc["series"]["ack_rate"][i + 1] == 1
    assert doc["limits"] == {"num_ack_pending": 1000}


async def test_thirty_days_of_10_second_samples_fit_in_1000_points_and_100_kb(
    clickhouse,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=30)
    await consumer_samples(clickhouse, start, 30 * 24 * 360)
    doc = await object_chart(
        clickhouse, ORG, "cluster-1", "ORDERS", "C0", parse_range("30d", now=now), raw_interval=10
    )
    assert len(doc["x"]) <= 1000
    assert all(len(column) == len(doc["x"]) for column in doc["series"].values())
    assert len(chart_json(doc)) <= 100_000
    assert doc["refresh"] == 10


async def test_a_range_ending_now_leaves_out_the_cycle_not_yet_written(clickhouse) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    cycle = int(now.timestamp()) // 10 * 10  # the cycle under way now
    first, last = cycle - 600, cycle - 30  # cycles written up to 30 s ago
    await consumer_samples(clickhouse, datetime.fromtimestamp(first, UTC), (last - first) // 10 + 1)
    doc = await object_chart(
        clickhouse, ORG, "cluster-1", "ORDERS", "C0", parse_range("15m", now=now), raw_interval=10
    )
    pending = dict(zip(doc["x"], doc["series"]["num_pending"], strict=True))
    # The cycle 20 s back is more than two intervals old: missing, so a gap. The one 10 s
    # back may still be under way: left out, like the current one.
    assert pending[last] is not None and pending[last + 10] is None
    assert doc["x"][-1] == last + 10


async def test_stream_limits_are_given_when_set(clickhouse) -> None:
    start = hour_ago(2)
    await clickhouse.command(
        f"INSERT INTO {DB}.stream_samples (ts, org_id, cluster_id, account, stream, messages, "
        "bytes, first_seq, last_seq, consumer_count, num_subjects, num_deleted, ingested_total) "
        "SELECT toDateTime({start:UInt32} + number * 10, 'UTC'), {org:String}, 'cluster-1', "
        "'APP', 'ORDERS', number, number * 100, 1, number, 1, 1, 0, number * 3 "
        "FROM numbers(6)",
        {"start": int(start.timestamp()), "org": ORG},
    )
    rng = ChartRange(start, start + timedelta(minutes=1), "custom", False)
    doc = await object_chart(
        clickhouse,
        ORG,
        "cluster-1",
        "ORDERS",
        None,
        rng,
        raw_interval=10,
        limits={"bytes": 1 << 20, "messages": 0},
    )
    assert doc["series"] == {
        "messages": [0, 1, 2, 3, 4, 5],
        "bytes": [0, 100, 200, 300, 400, 500],
        "ingest_rate": [None, 0.3, 0.3, 0.3, 0.3, 0.3],
    }
    assert doc["units"] == {"messages": "msgs", "bytes": "bytes", "ingest_rate": "/s"}
    assert doc["limits"] == {"bytes": 1 << 20}


async def test_cluster_charts_count_reachable_servers_and_sum_usage(clickhouse) -> None:
    start = hour_ago(2)
    rows = []
    for i in range(6):
        if i == 3:
            continue  # a cycle that was never collected
        ts = start + timedelta(seconds=10 * i)
        for n in range(3):
            down = n == 2 and i == 4
            rows.append(
                [
                    ts,
                    ORG,
                    "cluster-1",
                    f"n{n}",
                    "",
                    int(not down),
                    1.0,
                    "2.12",
                    10,
                    1000,
                    100 * i,
                    10_000,
                    0,
                    0,
                    0,
                    0,
                    "jsz",
                    "",
                ]
            )
        rows.append([ts, ORG, "cluster-1", "APP", 7 * i, 0, 300 * i, 0, 1, 1])
    await clickhouse.insert(
        "server_samples",
        [r for r in rows if len(r) == 18],
        [
            "ts",
            "org_id",
            "cluster_id",
            "server",
            "server_id",
            "reachable",
            "rtt_ms",
            "version",
            "memory_used",
            "memory_limit",
            "storage_used",
            "storage_limit",
            "streams",
            "consumers",
            "messages",
            "bytes",
            "source",
            "error",
        ],
    )
    await clickhouse.insert(
        "account_samples",
        [r for r in rows if len(r) == 10],
        [
            "ts",
            "org_id",
            "cluster_id",
            "account",
            "memory_used",
            "memory_limit",
            "storage_used",
            "storage_limit",
            "streams",
            "consumers",
        ],
    )
    rng = ChartRange(start, start + timedelta(minutes=1), "custom", False)
    doc = await cluster_chart_data(clickhouse, ORG, "cluster-1", rng, raw_interval=10)
    assert doc["series"] == {
        "storage_used": [0, 300, 600, None, 1200, 1500],
        "memory_used": [0, 7, 14, None, 28, 35],
        "servers_reachable": [3, 3, 3, None, 2, 3],
    }
    # No account limits: the servers' JetStream capacity is the limit.
    assert doc["limits"] == {"storage_used": 30_000, "memory_used": 3000, "servers_reachable": 3}


async def test_sparklines_of_many_consumers_come_from_one_query(clickhouse) -> None:
    now = hour_ago(0)
    for n in range(3):
        await consumer_samples(clickhouse, now - timedelta(hours=1), 360, consumer=f"C{n}")
    keys = [ConsumerKey("cluster-1", "ORDERS", f"C{n}") for n in range(4)]
    lines = await lag_sparklines(clickhouse, ORG, keys, now=now)
    assert lines["step"] == 120 and len(lines["x"]) == 30
    assert set(lines["series"]) == {f"cluster-1/ORDERS/C{n}" for n in range(4)}
    c0 = lines["series"]["cluster-1/ORDERS/C0"]
    assert c0[0] == 100 + 11 + 5 and c0[-1] == 100 + 359 + 5  # the last sample of each bucket
    assert lines["series"]["cluster-1/ORDERS/C3"] == [None] * 30


async def test_the_most_lagging_consumers_come_first(clickhouse) -> None:
    now = hour_ago(0)
    # C0 ends at 100 + 29 + 5, C1 at 100 + 19 + 5; C2 was last sampled over 5 minutes ago.
    for n in range(3):
        await consumer_samples(
            clickhouse, now - timedelta(minutes=5 + n), 30 - n * 10, consumer=f"C{n}"
        )
    top = await most_lagging_consumers(clickhouse, ORG, limit=2, now=now)
    assert [(c.key.consumer, c.total_lag) for c in top] == [("C0", 134), ("C1", 124)]
    assert top[0].time_lag_seconds == 2.5 and top[0].key.label == "ORDERS/C0"


async def test_the_last_points_are_what_nats_reported_for_a_backlog(
    nats_server, clickhouse, pool
) -> None:
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
    for i in range(25):
        await js.publish("orders.new", f"m{i}".encode())
    sub = await js.pull_subscribe("orders.>", durable="BILLING", stream="ORDERS")
    assert len(await sub.fetch(7, timeout=5)) == 7
    info = await js.consumer_info("ORDERS", "BILLING")
    await nc.close()
    ts = hour_ago(1)
    await collect_cluster(clickhouse, pool, target_for(nats_server), ts)
    rng = ChartRange(ts - timedelta(minutes=5), ts + timedelta(seconds=10), "custom", False)
    doc = await object_chart(
        clickhouse,
        ORG,
        "cluster-1",
        "ORDERS",
        "BILLING",
        rng,
        raw_interval=10,
        limits={"num_ack_pending": info.config.max_ack_pending},
    )
    assert doc["series"]["num_pending"][-1] == info.num_pending == 18
    assert doc["series"]["num_ack_pending"][-1] == info.num_ack_pending == 7
    assert doc["series"]["num_pending"][:-1] == [None] * (len(doc["x"]) - 1)
    assert doc["limits"] == {"num_ack_pending": 1000}


def test_ranges_are_presets_ending_now_or_custom() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    day = parse_range("24h", now=now)
    assert (day.start, day.end, day.live, day.query()) == (
        now - timedelta(days=1),
        now,
        True,
        {"range": "24h"},
    )
    assert parse_range(now=now).key == "1h"
    custom = parse_range("custom", "2026-02-01T00:00:00Z", "1772366400", now=now)
    assert custom.start == datetime(2026, 2, 1, tzinfo=UTC) and custom.end == now
    assert custom.query() == {
        "range": "custom",
        "from": "2026-02-01T00:00:00Z",
        "to": "2026-03-01T12:00:00Z",
    }
    for bad in (
        ("2d", None, None),
        ("custom", None, None),
        (None, "2026-03-02T00:00:00Z", None),
        (None, "yesterday", None),
    ):
        with pytest.raises(errors.Invalid):
            parse_range(*bad, now=now)


def test_numbers_are_short() -> None:
    assert [short(v) for v in (3, 2.0, 0.123456, 12345.678, float("nan"), None)] == [
        3,
        2,
        0.1235,
        1.235e4,
        None,
        None,
    ]
