"""The backing services one process talks to, opened once and closed once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from clickhouse_connect.driver import exceptions as ch_exc
from sqlalchemy import exc as sa_exc

from shared import errors
from shared.clusters.addresses import AddressPolicy
from shared.config import Settings
from shared.db import Database
from shared.epochs import RedisEpochs
from shared.messages.tails import TailHub
from shared.metrics.clickhouse import ClickHouse
from shared.nats import ConnectionPool
from shared.streams.listing import LISTING_TTL

CHECK_TIMEOUT = 2.0
# `<prefix><cluster id>`: bumped by every change made through JetDeck on the cluster.
CLUSTER_EPOCH_PREFIX = "jetdeck:cluster-epoch:"
# Redis answers in milliseconds: a command that takes this long means it is frozen or gone.
REDIS_TIMEOUT = 2.0


def unavailable_from(exc: BaseException) -> errors.Unavailable | None:
    """The domain error for a backing service failing (PostgreSQL, Redis, ClickHouse down,
    frozen or refusing), so a front door answers 503 naming it rather than the catch-all 500;
    None for anything else (a bug stays a 500)."""
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return errors.Unavailable(
            "Redis is not answering; try again shortly.", code="redis_unavailable"
        )
    if isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError,
    ) or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated):
        return errors.Unavailable(
            "The database is not answering; try again shortly.", code="database_unavailable"
        )
    if isinstance(exc, ch_exc.OperationalError):
        return errors.Unavailable(
            "ClickHouse is not answering; try again shortly.", code="clickhouse_unavailable"
        )
    return None


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
        policy = AddressPolicy(settings.clusters.allowed_networks)
        redis = (
            aioredis.Redis.from_url(
                settings.redis.url,
                socket_connect_timeout=CHECK_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
            )
            if settings.redis.url
            else None
        )
        return cls(
            settings=settings,
            database=Database(settings.database.url, pool_size=settings.database.pool_size)
            if settings.database.url
            else None,
            redis=redis,
            clickhouse=ClickHouse(settings.clickhouse.url, settings.clickhouse.database)
            if settings.clickhouse.url
            else None,
            nats=ConnectionPool(
                timeout=settings.nats.request_timeout,
                pin=policy.pin,
                host_allowed=policy.allows_host,
                # What a process changes on a cluster invalidates what all of them cached.
                epochs=RedisEpochs(
                    redis,
                    CLUSTER_EPOCH_PREFIX,
                    lapses=f"other processes' stream listings lapse within {LISTING_TTL:g}s",
                )
                if redis is not None
                else None,
            ),
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
