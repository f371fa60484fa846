"""Collection under faults, with the real services: a NATS node SIGKILLed during a JSZ round
is recorded unreachable and the cycle goes on; ClickHouse failing part-way through a write is
retried with the same cycle time and nothing is written twice."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from shared.config import MetricsSettings
from shared.metrics.collector import collect_cluster
from tests.shared.metrics.conftest import add_stream, cycle, publish, pull_subscribe, target_for
from tests.shared.metrics.test_collection import whole_again

DB = "jetdeck_test"


async def test_a_node_sigkilled_during_a_jsz_round_is_recorded_unreachable_and_the_cycle_goes_on(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    await add_stream(nc.jetstream(), name="KEEP", subjects=["keep.>"], num_replicas=3)
    await publish(nc, "keep.x", 5)
    await nc.close()
    # A cluster id of its own: the samples read back are this test's, whatever an earlier
    # test of this process (same server names, same cycle times) may still write.
    target = target_for(nats_cluster, cluster_id="sigkilled-mid-round")
    settings = MetricsSettings(jsz_timeout=2.0)
    await collect_cluster(clickhouse, pool, target, cycle(0), settings)  # connections made
    on = {
        (await pool.client(key, spec)).server_info["server_name"]
        for key, spec in (
            (target.cluster_id, target.spec),
            (f"{target.cluster_id}:system", target.system_spec),
        )
    }
    victim = next(n for n in nats_cluster.nodes if n.name not in on)
    assert victim.process is not None and victim.process.running(), victim.name
    pid = victim.process.pid
    assert pid is not None
    # Frozen, so the round is surely in flight without its reply, then killed mid-round.
    os.kill(pid, signal.SIGSTOP)
    await _until_stopped(pid)
    collecting = asyncio.create_task(collect_cluster(clickhouse, pool, target, cycle(1), settings))
    await asyncio.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    try:
        result = await asyncio.wait_for(collecting, 30)
    finally:
        victim.process.process.wait(5)

    assert result.source == "jsz"
    servers = dict(
        await clickhouse.query(
            f"SELECT server, reachable FROM {DB}.server_samples "
            "WHERE ts = toDateTime({ts:UInt32}, 'UTC') AND cluster_id = {cluster:String}",
            {"ts": int(cycle(1).timestamp()), "cluster": target.cluster_id},
        )
    )
    # Each cycle's rows with the answering server's id: a different id under the victim's
    # name would say another server answered in its place.
    every = await clickhouse.query(
        f"SELECT ts, server, server_id, reachable, error FROM {DB}.server_samples "
        "WHERE cluster_id = {cluster:String} ORDER BY ts, server",
        {"cluster": target.cluster_id},
    )
    assert servers[victim.name] == 0, (victim.name, pid, on, every, victim.process.log_tail())
    assert sorted(v for k, v in servers.items() if k != victim.name) == [1, 1]
    assert result.streams == 1  # the stream's figures still came from the servers alive
    await whole_again(nats_cluster)


async def _until_stopped(pid: int, within: float = 5.0) -> None:
    """Until the kernel shows the process stopped (state T), so nothing it sends comes after."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        stat = Path(f"/proc/{pid}/stat").read_text()  # noqa: ASYNC240 (procfs: never blocks)
        state = stat.rsplit(")", 1)[1].split()[0]
        if state in ("T", "t"):
            return
        assert asyncio.get_running_loop().time() < deadline, f"pid {pid} is in state {state}"
        await asyncio.sleep(0.01)


async def test_clickhouse_failing_mid_write_is_retried_and_nothing_is_written_twice(
    nats_cluster, clickhouse, pool
) -> None:
    nc = await nats_cluster.connect()
    js = nc.jetstream()
    await add_stream(js, name="EVENTS", subjects=["events.>"], num_replicas=3)
    await pull_subscribe(js, "events.>", "READER", "EVENTS")
    await publish(nc, "events.x", 10)
    await nc.close()
    target = target_for(nats_cluster)
    await collect_cluster(clickhouse, pool, target, cycle(0))

    # ClickHouse fails on the consumers (their counters table is gone for a moment): the
    # stream samples of the cycle are already written when the collection fails.
    await clickhouse.command(f"RENAME TABLE {DB}.consumer_counters TO {DB}.consumer_counters_away")
    try:
        with pytest.raises(Exception, match="consumer_counters"):
            await collect_cluster(clickhouse, pool, target, cycle(1))
    finally:
        await clickhouse.command(
            f"RENAME TABLE {DB}.consumer_counters_away TO {DB}.consumer_counters"
        )
    retry = await collect_cluster(clickhouse, pool, target, cycle(1))  # the actor's retry

    assert retry.written["stream_samples"] == 0  # already there
    assert retry.written["consumer_samples"] == 1
    counts = {
        table: (
            await clickhouse.query(
                f"SELECT count() FROM {DB}.{table} WHERE ts = toDateTime({{ts:UInt32}}, 'UTC')",
                {"ts": int(cycle(1).timestamp())},
            )
        )[0][0]
        for table in ("stream_samples", "consumer_samples", "server_samples", "account_samples")
    }
    assert counts == {
        "stream_samples": 1,
        "consumer_samples": 1,
        "server_samples": 3,
        "account_samples": 1,
    }
