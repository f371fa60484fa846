"""Enqueueing collections: one message per cluster per cycle, never one while one is running.

A cluster's in-flight key (`jetdeck:collect:inflight:<id>`) is set when its collection is
enqueued, only if absent, with a TTL of a few intervals (`inflight_ttl`: the message may wait
in the queue behind others); the collection deletes it when done (only its own: the value is
its cycle). So a cluster whose last collection is still queued or running is skipped.

While the collection runs its claim is short-lived instead (`running_ttl`) and renewed every
third of it: a worker killed mid-collection (SIGKILL, out of memory) holds the cluster for
`running_ttl` at most, and the cycle after that collects it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis

INFLIGHT_KEY = "jetdeck:collect:inflight:"

# Delete a key only if it still holds our value (the scheduler's leader lock uses it too).
RELEASE_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


# Set the key's TTL only if it still holds our value.
RENEW_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""


def running_ttl(interval: int) -> int:
    # Renewed every third of it while the collection runs: a dead worker blocks ~2 cycles.
    return max(15, interval * 2)


def inflight_ttl(interval: int) -> int:
    # Long enough for a slow collection and its retries, short enough to recover from a crash.
    return max(60, interval * 6)


async def claim(client: aioredis.Redis, cluster_id: str, cycle: int, interval: int) -> bool:
    """Mark the cluster's collection as in flight; False when one already is."""
    return bool(
        await client.set(INFLIGHT_KEY + cluster_id, str(cycle), nx=True, ex=inflight_ttl(interval))
    )


async def release(client: aioredis.Redis, cluster_id: str, cycle: int) -> None:
    await client.eval(RELEASE_IF_HELD, 1, INFLIGHT_KEY + cluster_id, str(cycle))


async def renew(client: aioredis.Redis, cluster_id: str, cycle: int, ttl: int) -> bool:
    """Give our claim (if it is still ours) `ttl` seconds from now."""
    return bool(await client.eval(RENEW_IF_HELD, 1, INFLIGHT_KEY + cluster_id, str(cycle), ttl))


@contextlib.asynccontextmanager
async def running(
    client: aioredis.Redis, cluster_id: str, cycle: int, ttl: int
) -> AsyncIterator[None]:
    """While the body runs, the claim lapses `ttl` seconds after the last sign of life."""
    await renew(client, cluster_id, cycle, ttl)

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            with contextlib.suppress(Exception):  # Redis away a moment: the next try renews
                await renew(client, cluster_id, cycle, ttl)

    task = asyncio.create_task(keep_alive())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def enqueue_collections(
    client: aioredis.Redis,
    cluster_ids: list[str],
    cycle: int,
    interval: int,
    send: Callable[[str, int], object],
) -> list[str]:
    """Send `collect_metrics` for each cluster not already in flight; returns those sent."""
    sent = []
    for cluster_id in cluster_ids:
        if await claim(client, cluster_id, cycle, interval):
            try:
                send(cluster_id, cycle)
            except Exception:
                await release(client, cluster_id, cycle)
                raise
            sent.append(cluster_id)
    return sent
