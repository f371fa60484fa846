"""An organization's dashboard: how each cluster is doing and what needs attention now.

Figures come from the latest collection cycle of each cluster (every table of a cycle carries
the cycle's time, so one cycle's servers, accounts, streams and consumers belong together).
A cluster that was never collected shows as such, not as down. The streams nearest their
limits need the streams' configured limits, which the samples do not hold: they come from the
cluster's shared stream listing (shared/streams/listing.py, one `STREAM.LIST` walk shared with
the streams page and the API, bounded in time here), and a cluster that does not answer in
time is left out of that list only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from shared import errors
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.clusters.services import cluster_client
from shared.streams.listing import cached_listing

log = logging.getLogger("jetdeck.dashboard")

# Servers: the latest cycle within a day (an old one still tells when collection stopped).
RECENT = timedelta(days=1)
# Consumers: only a recent cycle is "the latest samples"; older backlogs would mislead, and
# the bound keeps the read to the newest rows of each consumer.
RECENT_CONSUMERS = timedelta(minutes=10)
TOP = 5
NEAR_LIMITS = "dashboard.near_limits"  # its key in a listing's derived values
LIMITS_TIMEOUT = 3.0


@dataclass
class ClusterHealth:
    name: str
    environment: str | None
    enabled: bool
    collected_at: datetime | None = None  # the latest cycle; None: never collected
    reachable: bool | None = None  # None: not known (never collected)
    error: str = ""
    servers_up: int = 0
    servers_total: int = 0
    storage_used: int = 0
    storage_limit: int = 0  # 0: no limit known
    memory_used: int = 0
    memory_limit: int = 0


@dataclass
class StreamNearLimit:
    cluster: str
    stream: str
    limit: str  # "bytes", "messages" or "consumers"
    value: int
    maximum: int

    @property
    def ratio(self) -> float:
        return self.value / self.maximum


@dataclass
class ConsumerLag:
    cluster: str
    stream: str
    consumer: str
    num_pending: int
    num_ack_pending: int
    time_lag_seconds: float | None

    @property
    def backlog(self) -> int:
        return self.num_pending + self.num_ack_pending


@dataclass
class Dashboard:
    clusters: list[ClusterHealth]
    near_limits: list[StreamNearLimit] = field(default_factory=list)
    largest_backlog: list[ConsumerLag] = field(default_factory=list)
    largest_time_lag: list[ConsumerLag] = field(default_factory=list)
    metrics_available: bool = True


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def _registered(backends: Backends, ctx: OrgContext) -> list[Cluster]:
    assert backends.database is not None
    async with backends.database.session() as session:
        rows = await session.scalars(
            select(Cluster).where(Cluster.org_id == ctx.org_id).order_by(Cluster.name)
        )
        return list(rows)


def _latest(db: str, table: str) -> str:
    """Rows of each cluster's latest cycle in `table` since `{since}`. The bound also lets
    ClickHouse skip all but the newest granules of every stream or consumer."""
    return (
        "ts >= toDateTime({since:UInt32}, 'UTC') AND (cluster_id, ts) IN "  # noqa: S608 (our names)
        f"(SELECT cluster_id, max(ts) FROM {db}.{table} "
        "WHERE org_id = {org:String} AND ts >= toDateTime({since:UInt32}, 'UTC') "
        "GROUP BY cluster_id)"
    )


async def _server_health(
    backends: Backends, ctx: OrgContext, health: dict[str, ClusterHealth]
) -> None:
    """Fill `health` from each cluster's latest server samples."""
    ch = backends.clickhouse
    assert ch is not None
    db = ch.database
    params = {"org": str(ctx.org_id), "since": int((datetime.now(UTC) - RECENT).timestamp())}
    servers = await ch.query(
        "SELECT cluster_id, ts, reachable, source, error, memory_used, memory_limit, "  # noqa: S608
        f"storage_used, storage_limit FROM {db}.server_samples "
        f"WHERE org_id = {{org:String}} AND {_latest(db, 'server_samples')}",
        params,
    )
    for cid, ts, reachable, source, error, mem, mem_max, sto, sto_max in servers:
        h = health.get(cid)
        if h is None:
            continue
        h.collected_at = _utc(ts)
        if source == "none":  # the collector's marker of a cluster it could not reach
            h.reachable, h.error = False, error
            continue
        h.reachable = True
        h.servers_total += 1
        h.servers_up += int(bool(reachable))
        h.memory_used += mem
        h.memory_limit += mem_max
        h.storage_used += sto
        h.storage_limit += sto_max


async def cluster_health(backends: Backends, ctx: OrgContext) -> dict[str, ClusterHealth]:
    """Each cluster's reachability, servers up and last collection, by name, from its latest
    server samples: one ClickHouse query, no NATS round trip (the clusters list). Nothing is
    known without ClickHouse or before the first collection (`reachable` None)."""
    registered = await _registered(backends, ctx)
    health = {str(c.id): ClusterHealth(c.name, c.environment, c.enabled) for c in registered}
    if registered and backends.clickhouse is not None:
        await _server_health(backends, ctx, health)
    return {h.name: h for h in health.values()}


async def _from_samples(
    backends: Backends, ctx: OrgContext, health: dict[str, ClusterHealth], names: dict[str, str]
) -> tuple[list[ConsumerLag], list[ConsumerLag]]:
    ch = backends.clickhouse
    assert ch is not None
    db = ch.database
    params = {"org": str(ctx.org_id), "since": int((datetime.now(UTC) - RECENT).timestamp())}
    await _server_health(backends, ctx, health)
    accounts = await ch.query(
        "SELECT cluster_id, sum(memory_used), sum(memory_limit), sum(storage_used), "  # noqa: S608
        f"sum(storage_limit) FROM {db}.account_samples "
        f"WHERE org_id = {{org:String}} AND {_latest(db, 'account_samples')} GROUP BY cluster_id",
        params,
    )
    for cid, mem, mem_max, sto, sto_max in accounts:
        h = health.get(cid)
        # Without $SYS the servers' JetStream figures are unknown: the account's stand in.
        if h is not None and h.reachable and h.storage_limit == 0 and h.memory_limit == 0:
            h.memory_used, h.memory_limit, h.storage_used, h.storage_limit = (
                mem,
                mem_max,
                sto,
                sto_max,
            )
    recent = {**params, "since": int((datetime.now(UTC) - RECENT_CONSUMERS).timestamp())}
    lags = []
    for order in ("num_pending + num_ack_pending", "ifNull(time_lag_seconds, 0)"):
        rows = await ch.query(
            "SELECT cluster_id, stream, consumer, num_pending, num_ack_pending, "  # noqa: S608
            f"time_lag_seconds FROM {db}.consumer_samples FINAL "
            f"WHERE org_id = {{org:String}} AND {_latest(db, 'consumer_samples')} "
            f"AND {order} > 0 ORDER BY {order} DESC, stream, consumer LIMIT {TOP}",
            recent,
        )
        lags.append(
            [
                ConsumerLag(names.get(cid, cid), stream, consumer, pending, ack_pending, lag)
                for cid, stream, consumer, pending, ack_pending, lag in rows
            ]
        )
    return lags[0], lags[1]


def _nearness(cluster: str, info: dict[str, Any]) -> StreamNearLimit | None:
    config, state = info.get("config") or {}, info.get("state") or {}
    candidates = [
        StreamNearLimit(cluster, config.get("name", ""), kind, int(state.get(used) or 0), limit)
        for kind, used, limit in (
            ("bytes", "bytes", int(config.get("max_bytes") or -1)),
            ("messages", "messages", int(config.get("max_msgs") or -1)),
            ("consumers", "consumer_count", int(config.get("max_consumers") or -1)),
        )
        if limit > 0
    ]
    return max(candidates, key=lambda c: c.ratio, default=None)


async def _near_limits(
    backends: Backends, ctx: OrgContext, clusters: list[ClusterHealth]
) -> list[StreamNearLimit]:
    async def one(name: str) -> list[StreamNearLimit]:
        # The cluster's shared stream listing (shared/streams/listing.py: the streams page's
        # and the API's), and what was derived from it once per listing: a change made
        # through JetDeck shows at once, one made elsewhere within the listing's few seconds.
        try:
            client = await cluster_client(backends, ctx, name)
            entry, listing = await cached_listing(client, None)
        except errors.JetDeckError as exc:
            log.info("streams of %s not listed for the dashboard: %s", name, exc.detail)
            return []
        found: list[StreamNearLimit] | None = entry.derived.get(NEAR_LIMITS)
        if found is None:
            nearness = (_nearness(name, info) for _, info in listing)
            found = entry.derived[NEAR_LIMITS] = _nearest([n for n in nearness if n])
        return found

    async def bounded(name: str) -> list[StreamNearLimit]:
        try:
            return await asyncio.wait_for(one(name), LIMITS_TIMEOUT)
        except TimeoutError:
            return []

    wanted = [c.name for c in clusters if c.reachable is not False]
    found = await asyncio.gather(*(bounded(name) for name in wanted))
    return _nearest([near for per_cluster in found for near in per_cluster])


def _nearest(found: list[StreamNearLimit]) -> list[StreamNearLimit]:
    return sorted(found, key=lambda n: (-n.ratio, n.cluster, n.stream))[:TOP]


async def org_dashboard(backends: Backends, ctx: OrgContext) -> Dashboard:
    """Every cluster's health, the streams nearest their limits, the consumers furthest
    behind (by backlog, and by time lag) in the latest samples."""
    registered = await _registered(backends, ctx)
    health = {str(c.id): ClusterHealth(c.name, c.environment, c.enabled) for c in registered}
    board = Dashboard(list(health.values()))
    if not registered:
        return board
    if backends.clickhouse is None:
        board.metrics_available = False
    else:
        names = {str(c.id): c.name for c in registered}
        board.largest_backlog, board.largest_time_lag = await _from_samples(
            backends, ctx, health, names
        )
    board.near_limits = await _near_limits(backends, ctx, board.clusters)
    return board
