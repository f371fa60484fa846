"""The access epoch: concurrent readers share a Redis GET, but never one sent before they came."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from shared.accounts.authcache import EPOCH_KEY, access_withdrawn, current_epoch


async def _gets(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def test_concurrent_requests_share_one_read_of_the_epoch(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.incr(EPOCH_KEY)
    await current_epoch(client)  # connect
    before = await _gets(client)
    epochs = await asyncio.gather(*(current_epoch(client) for _ in range(16)))
    assert epochs == [b"1"] * 16
    assert await _gets(client) - before == 1
    await client.aclose()


async def test_a_request_arriving_after_a_read_was_sent_sees_a_later_withdrawal(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    other_process = aioredis.Redis.from_url(redis_url)
    await current_epoch(client)
    early = asyncio.ensure_future(current_epoch(client))
    await asyncio.sleep(0)  # the early request's GET is now on its way
    await asyncio.sleep(0)
    await access_withdrawn(other_process)
    late = await current_epoch(client)
    assert late == b"1"
    assert (await early) in (None, b"1")
    await client.aclose()
    await other_process.aclose()
