"""Enqueueing collections: one message per cluster per cycle, never one while one is running.

A cluster's in-flight key (`jetdeck:collect:inflight:<id>`) is set when its collection is
enqueued, only if absent, with a TTL of a few intervals; the collection deletes it when done
(only its own: the value is its cycle). So a cluster whose last collection is still queued
or running is skipped, and a worker that died mid-collection blocks it for one TTL at most.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

INFLIGHT_KEY = "jetdeck:collect:inflight:"

# Delete a key only if it still holds our value (the scheduler's leader lock uses it too).
RELEASE_IF_HELD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


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
