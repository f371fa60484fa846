"""Small facts the workers leave in Redis for the other processes to show."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis

HEARTBEAT_KEY = "jetdeck:worker:heartbeat"


async def last_worker_heartbeat(redis: aioredis.Redis) -> datetime | None:
    try:
        raw = await redis.get(HEARTBEAT_KEY)
    except Exception:  # the page still renders when Redis is down; readiness says why
        return None
    return datetime.fromtimestamp(float(raw), UTC) if raw else None
