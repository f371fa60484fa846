"""Login attempt limits, per account and per client IP, in Redis (fixed one-minute windows).

Failed attempts are counted; once a window holds the limit, every attempt is refused until it
expires, a correct password included, so guessing cannot continue by luck of timing.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from shared.errors import RateLimited

WINDOW = 60


def _keys(email: str, ip: str | None) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [f"jetdeck:login-failures:account:{account}"]
    if ip:
        keys.append(f"jetdeck:login-failures:ip:{ip}")
    return keys


async def refuse_if_limited(redis: aioredis.Redis, email: str, ip: str | None, limit: int) -> None:
    keys = _keys(email, ip)
    counts = await redis.mget(keys)
    for key, count in zip(keys, counts, strict=True):
        if count is not None and int(count) >= limit:
            ttl = await redis.ttl(key)
            raise RateLimited(
                "Too many failed sign-in attempts; try again later.",
                retry_after=max(int(ttl), 1),
                code="too_many_attempts",
            )


async def record_failure(redis: aioredis.Redis, email: str, ip: str | None) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(email, ip):
            pipe.set(key, 0, ex=WINDOW, nx=True)
            pipe.incr(key)
        await pipe.execute()
