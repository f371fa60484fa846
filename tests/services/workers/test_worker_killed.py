"""A worker SIGKILLed mid-collection does not block its cluster for long: while a collection
runs its claim is short-lived and renewed, so once the worker is dead the claim lapses and the
next cycle's fan-out enqueues the cluster again (a queued collection keeps the longer TTL)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import redis.asyncio as aioredis

from services.workers.collection import INFLIGHT_KEY, enqueue_collections, inflight_ttl

# What the collect_metrics actor does around a collection, in a process of its own.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import redis.asyncio as aioredis
    from services.workers.collection import enqueue_collections, running

    async def main(url, cycle):
        client = aioredis.Redis.from_url(url)
        assert await enqueue_collections(client, ["c1"], cycle, 10, lambda *_: None) == ["c1"]
        async with running(client, "c1", cycle, 2):  # collecting (for ever)
            print("collecting", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def test_a_worker_killed_mid_collection_holds_its_cluster_briefly_not_for_the_queued_ttl(
    redis_url: str,
) -> None:
    cycle = 1_000_000
    child = subprocess.Popen(  # noqa: ASYNC220 - a plain child process, killed below
        [sys.executable, "-c", CHILD, redis_url, str(cycle)],
        stdout=subprocess.PIPE,
        text=True,
    )
    redis = aioredis.Redis.from_url(redis_url)
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 20)
        assert line.strip() == "collecting"
        held_ttl = await redis.ttl(INFLIGHT_KEY + "c1")
        child.send_signal(signal.SIGKILL)
        child.wait(5)
        right_after = await enqueue_collections(redis, ["c1"], cycle + 10, 10, lambda *_: None)
        later: list[str] = []
        for attempt in range(40):  # bounded: 40 x 0.25 s
            later = await enqueue_collections(
                redis, ["c1"], cycle + 20 + attempt, 10, lambda *_: None
            )
            if later:
                break
            await asyncio.sleep(0.25)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        await redis.aclose()
    assert 0 < held_ttl <= 2 < inflight_ttl(10)  # running: the short TTL, not the queued one
    assert right_after == []  # still claimed the moment the worker died
    assert later == ["c1"]  # and free again once its short claim lapsed
