"""The backing services one process talks to, opened once and closed once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from shared.config import Settings
from shared.db import Database
from shared.messages.tails import TailHub
from shared.metrics.clickhouse import ClickHouse
from shared.nats import ConnectionPool

CHECK_TIMEOUT = 2.0


@dataclass
class Backends:
    settings: Settings
    database: Database | None = None
    redis: aioredis.Redis | None = None
    clickhouse: ClickHouse | None = None
    nats: ConnectionPool = field(default_factory=ConnectionPool)
    tails: TailHub = field(default_factory=TailHub)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Backends:
        """Create clients; nothing connects until first use, so start-up never hangs."""
        return cls(
            settings=settings,
            database=Database(settings.database.url, pool_size=settings.database.pool_size)
            if settings.database.url
            else None,
            redis=aioredis.Redis.from_url(
                settings.redis.url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=5
            )
            if settings.redis.url
            else None,
            clickhouse=ClickHouse(settings.clickhouse.url, settings.clickhouse.database)
            if settings.clickhouse.url
            else None,
            nats=ConnectionPool(timeout=settings.nats.request_timeout),
            tails=TailHub(
                per_user=settings.messages.tails_per_user,
                per_process=settings.messages.tails_per_process,
                poll_seconds=settings.messages.tail_poll_seconds,
                queue=settings.messages.tail_queue,
                batch_bytes=settings.messages.batch_bytes,
            ),
        )

    async def readiness(self) -> dict[str, str]:
        """`ok`, `not configured`, or the reason each backing service is not ready."""

        async def check(probe: object) -> str:
            if probe is None:
                return "not configured"
            try:
                await asyncio.wait_for(probe, CHECK_TIMEOUT)  # type: ignore[arg-type]
            except TimeoutError:
                return "timeout"
            except Exception as exc:  # a readiness probe reports any failure, it never raises
                return f"error: {type(exc).__name__}"
            return "ok"

        names = ("database", "redis", "clickhouse")
        probes = (
            self.database.ping() if self.database else None,
            self.redis.ping() if self.redis else None,
            self.clickhouse.ping() if self.clickhouse else None,
        )
        results = await asyncio.gather(*(check(p) for p in probes))
        return dict(zip(names, results, strict=True))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.database:
            await self.database.dispose()
        if self.redis:
            await self.redis.aclose()
        if self.clickhouse:
            self.clickhouse.close()
        await self.tails.close()
        await self.nats.close()
