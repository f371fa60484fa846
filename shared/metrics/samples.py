"""One cycle's samples, before counters are reset-corrected and rows written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.metrics.reports import ConsumerConfig, ConsumerReport, StreamState


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

    @classmethod
    def from_report(
        cls, account: str, name: str, created: datetime | None, state: StreamState
    ) -> StreamSample:
        last_ts = state.last_ts if state.last_ts and state.last_ts.year > 1970 else None
        return cls(
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
    # The consumer's filter subjects when the report carried its config (CONSUMER.LIST does,
    # JSZ without `config` does not): () for none (every subject), None for unknown.
    filters: tuple[str, ...] | None = None

    @classmethod
    def from_report(cls, account: str, stream: str, c: ConsumerReport) -> ConsumerSample:
        actives = [t for t in (c.delivered.last_active, c.ack_floor.last_active) if t]
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
