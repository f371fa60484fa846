"""What NATS reports, decoded with msgspec: JSZ replies, STREAM.LIST and CONSUMER.LIST items.

Only the fields the collector reads are declared; every other field is skipped (msgspec
ignores unknown fields), so a newer server's additions never break decoding.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Peer(msgspec.Struct):
    name: str = ""
    current: bool = False
    offline: bool = False
    lag: int = 0
    active: int = 0  # nanoseconds since the peer was last seen


class ClusterInfo(msgspec.Struct):
    name: str | None = None
    leader: str | None = None
    replicas: list[Peer] | None = None


class SequenceInfo(msgspec.Struct):
    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: datetime | None = None


class ConsumerConfig(msgspec.Struct):
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    max_ack_pending: int = 0
    metadata: dict[str, str] | None = None


class ConsumerReport(msgspec.Struct):
    stream_name: str = ""
    name: str = ""
    created: datetime | None = None
    delivered: SequenceInfo = msgspec.field(default_factory=SequenceInfo)
    ack_floor: SequenceInfo = msgspec.field(default_factory=SequenceInfo)
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    num_pending: int = 0
    cluster: ClusterInfo | None = None
    config: ConsumerConfig | None = None


class StreamState(msgspec.Struct):
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_ts: datetime | None = None
    consumer_count: int = 0
    num_subjects: int = 0
    num_deleted: int = 0


class StreamConfig(msgspec.Struct):
    """The parts of a stream's config alerts read (limits, replicas, monitor metadata)."""

    name: str = ""
    max_msgs: int = -1
    max_bytes: int = -1
    num_replicas: int = 1
    metadata: dict[str, str] | None = None


class StreamReport(msgspec.Struct):
    name: str = ""
    created: datetime | None = None
    state: StreamState = msgspec.field(default_factory=StreamState)
    cluster: ClusterInfo | None = None
    consumer_detail: list[ConsumerReport] | None = None
    config: StreamConfig | None = None


class StreamListItem(msgspec.Struct):
    """A STREAM.LIST item: the name sits in `config`."""

    config: StreamConfig = msgspec.field(default_factory=StreamConfig)
    created: datetime | None = None
    state: StreamState = msgspec.field(default_factory=StreamState)
    cluster: ClusterInfo | None = None


class AccountDetail(msgspec.Struct):
    name: str = ""
    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    stream_detail: list[StreamReport] | None = None


class JetStreamConfig(msgspec.Struct):
    max_memory: int = 0
    max_storage: int = 0


class MetaCluster(msgspec.Struct):
    name: str | None = None
    leader: str | None = None
    replicas: list[Peer] | None = None
    cluster_size: int = 0


class JszData(msgspec.Struct):
    # A server with JetStream off answers with its figures zeroed and `disabled` set.
    disabled: bool = False
    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0
    messages: int = 0
    bytes: int = 0
    config: JetStreamConfig = msgspec.field(default_factory=JetStreamConfig)
    meta_cluster: MetaCluster | None = None
    account_details: list[AccountDetail] | None = None


class ServerInfo(msgspec.Struct):
    name: str = ""
    id: str = ""
    ver: str = ""
    cluster: str | None = None


class JszReply(msgspec.Struct):
    server: ServerInfo = msgspec.field(default_factory=ServerInfo)
    data: JszData | None = None
    error: dict[str, object] | None = None


class AccountLimits(msgspec.Struct):
    max_memory: int = -1
    max_storage: int = -1


class AccountInfo(msgspec.Struct):
    """`$JS.API.INFO`: the connected account's usage and limits (collection without $SYS)."""

    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits = msgspec.field(default_factory=AccountLimits)


jsz_decoder = msgspec.json.Decoder(JszReply)
