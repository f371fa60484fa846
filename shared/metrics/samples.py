"""One cycle's samples, before counters are reset-corrected and rows written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.metrics.reports import (
    ClusterInfo,
    ConsumerConfig,
    ConsumerReport,
    StreamConfig,
    StreamState,
)


@dataclass
class StreamSample:
    account: str
    stream: str
    created: datetime | None
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    last_ts: datetime | None
    consumer_count: int
    num_subjects: int
    num_deleted: int
    # From the stream's config and cluster block, when NATS reported them (alerts read these).
    max_msgs: int = -1
    max_bytes: int = -1
    replicas: int = 1
    metadata: dict[str, str] = field(default_factory=dict)
    # The leader and its replicas as (name, current, offline, lag, active ns); None unclustered.
    peers: list[tuple[str, bool, bool, int, int]] | None = None
    has_leader: bool = True

    @classmethod
    def from_report(
        cls,
        account: str,
        name: str,
        created: datetime | None,
        state: StreamState,
        config: StreamConfig | None = None,
        cluster: ClusterInfo | None = None,
    ) -> StreamSample:
        last_ts = state.last_ts if state.last_ts and state.last_ts.year > 1970 else None
        sample = cls(
            account,
            name,
            created,
            state.messages,
            state.bytes,
            state.first_seq,
            state.last_seq,
            last_ts,
            state.consumer_count,
            state.num_subjects,
            state.num_deleted,
        )
        if config is not None:
            sample.max_msgs, sample.max_bytes = config.max_msgs, config.max_bytes
            sample.replicas = config.num_replicas
            sample.metadata = dict(config.metadata or {})
        if cluster is not None:
            sample.has_leader = bool(cluster.leader)
            sample.peers = [
                (p.name, p.current, p.offline, p.lag, p.active) for p in cluster.replicas or []
            ]
        return sample


@dataclass
class ConsumerSample:
    account: str
    stream: str
    consumer: str
    created: datetime | None
    num_pending: int
    num_ack_pending: int
    num_redelivered: int
    num_waiting: int
    delivered_consumer_seq: int
    delivered_stream_seq: int
    ack_floor_consumer_seq: int
    ack_floor_stream_seq: int
    last_active: datetime | None
    time_lag_seconds: float | None = None
    # The consumer's filter subjects from the report's config (CONSUMER.LIST and JSZ, asked
    # with `config`, carry it): () for none (every subject), None for a report without it.
    filters: tuple[str, ...] | None = None
    last_delivered: datetime | None = None
    last_acked: datetime | None = None
    max_ack_pending: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_report(cls, account: str, stream: str, c: ConsumerReport) -> ConsumerSample:
        actives = [t for t in (c.delivered.last_active, c.ack_floor.last_active) if t]
        config = c.config
        return cls(
            account,
            stream or c.stream_name,
            c.name,
            c.created,
            c.num_pending,
            c.num_ack_pending,
            c.num_redelivered,
            c.num_waiting,
            c.delivered.consumer_seq,
            c.delivered.stream_seq,
            c.ack_floor.consumer_seq,
            c.ack_floor.stream_seq,
            max(actives) if actives else None,
            filters=filters_of(c.config) if c.config is not None else None,
            last_delivered=c.delivered.last_active,
            last_acked=c.ack_floor.last_active,
            max_ack_pending=config.max_ack_pending if config else 0,
            metadata=dict(config.metadata or {}) if config else {},
        )


def filters_of(config: ConsumerConfig) -> tuple[str, ...]:
    """A consumer's filter subjects; () when it takes every subject of its stream."""
    if config.filter_subjects:
        return tuple(config.filter_subjects)
    return (config.filter_subject,) if config.filter_subject else ()


@dataclass
class ServerSample:
    server: str
    server_id: str
    reachable: bool
    rtt_ms: float
    version: str
    source: str
    memory_used: int = 0
    memory_limit: int = 0
    storage_used: int = 0
    storage_limit: int = 0
    streams: int = 0
    consumers: int = 0
    messages: int = 0
    bytes: int = 0
    error: str = ""


@dataclass
class AccountSample:
    account: str
    memory_used: int = 0
    memory_limit: int = 0
    storage_used: int = 0
    storage_limit: int = 0
    streams: int = 0
    consumers: int = 0


@dataclass
class Collection:
    """Everything one cycle read from one cluster, stamped with the cycle's time."""

    org_id: str
    cluster_id: str
    ts: datetime
    streams: list[StreamSample] = field(default_factory=list)
    consumers: list[ConsumerSample] = field(default_factory=list)
    servers: list[ServerSample] = field(default_factory=list)
    accounts: list[AccountSample] = field(default_factory=list)

    def clear(self) -> None:
        self.streams.clear()
        self.consumers.clear()
        self.servers.clear()
        self.accounts.clear()
