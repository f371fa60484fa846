"""Stream and consumer shapes. Configs are NATS' own JSON, passed through whole so fields a
newer server adds work without a JetDeck release."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec

NatsName = Annotated[str, msgspec.Meta(pattern=r"^[^.*>\s/\\]+$", min_length=1, max_length=255)]
SortKey = Literal[
    "name",
    "-name",
    "messages",
    "-messages",
    "bytes",
    "-bytes",
    "consumers",
    "-consumers",
    "last_ts",
    "-last_ts",
    "created",
    "-created",
]


class PurgeIn(msgspec.Struct, forbid_unknown_fields=True):
    subject: str | None = None
    keep: Annotated[int, msgspec.Meta(ge=1)] | None = None
    seq: Annotated[int, msgspec.Meta(ge=1)] | None = None


class PauseIn(msgspec.Struct, forbid_unknown_fields=True):
    until: str  # RFC 3339


@dataclass
class StreamSummary:
    name: str
    subjects: list[str]
    retention: str
    storage: str
    replicas: int
    messages: int
    bytes: int
    consumers: int
    first_seq: int
    last_seq: int
    last_ts: str | None
    created: str | None = None


@dataclass
class StreamInfo:
    config: dict[str, Any]
    state: dict[str, Any]
    cluster: dict[str, Any] | None
    created: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # everything else NATS reports


@dataclass
class Change:
    field: str
    before: Any
    after: Any
    updatable: bool
    reason: str | None = None


@dataclass
class StreamUpdate:
    changes: list[Change]
    dry_run: bool
    stream: StreamInfo | None = None


@dataclass
class Purged:
    purged: int
