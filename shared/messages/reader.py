"""Reading a stream's messages in order without changing it: batched direct gets when the
stream allows them, else `$JS.API.STREAM.MSG.GET` with `next_by_subj`. Never a consumer,
never an ack, so WorkQueue and Interest streams are safe to read."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec

from shared.errors import Invalid, NotFound, Unavailable
from shared.nats import ClusterClient
from shared.nats.headers import HeaderValues, message_headers, parse_header_block

_encode = msgspec.json.Encoder()
BATCH = 256  # replies per direct-get request
# Bytes per direct-get request at most (`max_bytes`; NATS still sends one bigger message).
BATCH_BYTES = 2 * 1024 * 1024
# What direct get adds to a message's own headers.
DIRECT_HEADERS = frozenset(
    {
        "Nats-Stream",
        "Nats-Sequence",
        "Nats-Time-Stamp",
        "Nats-Subject",
        "Nats-Num-Pending",
        "Nats-Last-Sequence",
        "Nats-UpTo-Sequence",
    }
)


@dataclass(slots=True)
class StoredMessage:
    seq: int
    subject: str
    time: str | None
    headers: HeaderValues
    data: bytes


@dataclass
class StreamFacts:
    name: str
    allow_direct: bool
    first_seq: int
    last_seq: int
    subjects: list[str]
    messages: int


async def stream_facts(client: ClusterClient, stream: str) -> StreamFacts:
    info = await client.js(f"STREAM.INFO.{stream}")
    config, state = info.get("config") or {}, info.get("state") or {}
    return StreamFacts(
        name=stream,
        allow_direct=bool(config.get("allow_direct")),
        first_seq=int(state.get("first_seq") or 0),
        last_seq=int(state.get("last_seq") or 0),
        subjects=list(config.get("subjects") or []),
        messages=int(state.get("messages") or 0),
    )


def from_msg_get(message: dict[str, Any]) -> StoredMessage:
    hdrs = message.get("hdrs")
    return StoredMessage(
        seq=int(message["seq"]),
        subject=message.get("subject", ""),
        time=message.get("time"),
        headers=parse_header_block(base64.b64decode(hdrs)) if hdrs else {},
        data=base64.b64decode(message.get("data") or b""),
    )


async def get_one(client: ClusterClient, stream: str, body: dict[str, Any]) -> StoredMessage:
    """`STREAM.MSG.GET`: by `seq`, `last_by_subj`, or `next_by_subj` from `seq`."""
    reply = await client.js(f"STREAM.MSG.GET.{stream}", body)
    return from_msg_get(reply["message"])


async def _direct_batch(
    client: ClusterClient, stream: str, body: dict[str, Any]
) -> tuple[list[StoredMessage], int | None]:
    """One batched direct get: the messages, and how many more match (None when unknown)."""
    out: list[StoredMessage] = []
    pending: int | None = None
    for msg in await client.request_many(f"$JS.API.DIRECT.GET.{stream}", _encode.encode(body)):
        h = msg.headers or {}
        status = h.get("Status")
        if status and not msg.data and "Nats-Sequence" not in h:
            if status == "204":  # end of batch
                pending = int(h.get("Nats-Num-Pending") or 0)
            elif status == "404":
                pending = 0
            elif status == "408" or status == "413" or status == "400":
                raise Invalid(
                    f"NATS refused the read: {h.get('Description', status)}",
                    code="direct_get_refused",
                    extra={"nats_status": int(status), "description": h.get("Description", "")},
                )
            elif status == "503":
                raise Unavailable(
                    "The stream has no leader or replica to answer now",
                    code="stream_unavailable",
                    extra={"cluster": client.label},
                )
            break
        out.append(
            StoredMessage(
                seq=int(h["Nats-Sequence"]),
                subject=h.get("Nats-Subject", ""),
                time=h.get("Nats-Time-Stamp"),
                headers=message_headers(h, skip=DIRECT_HEADERS),
                data=msg.data,
            )
        )
    return out, pending


async def read_forward(
    client: ClusterClient,
    facts: StreamFacts,
    *,
    start_seq: int | None = None,
    start_time: str | None = None,
    subject: str | None = None,
    up_to_seq: int | None = None,
    batch: int = BATCH,
    batch_bytes: int = BATCH_BYTES,
) -> AsyncIterator[StoredMessage]:
    """Messages in sequence order from `start_seq` (or the first at/after `start_time`),
    matching `subject` when given, stopping after `up_to_seq`. Memory: one batch of at most
    `batch` messages and about `batch_bytes` bytes (one message when it alone is bigger)."""
    seq = max(start_seq or facts.first_seq or 1, 1)
    use_time = start_time if start_seq is None else None
    while up_to_seq is None or seq <= up_to_seq:
        if facts.allow_direct:
            size = batch if up_to_seq is None or subject else min(batch, up_to_seq - seq + 1)
            body: dict[str, Any] = {"batch": size, "max_bytes": batch_bytes}
            body.update({"start_time": use_time} if use_time else {"seq": seq})
            if subject:
                body["next_by_subj"] = subject
            messages, pending = await _direct_batch(client, facts.name, body)
            for message in messages:
                if up_to_seq is not None and message.seq > up_to_seq:
                    return
                yield message
            if not messages or pending == 0:
                return
            seq, use_time = messages[-1].seq + 1, None
        else:
            body = {"next_by_subj": subject or ">"}
            body.update({"start_time": use_time} if use_time else {"seq": seq})
            try:
                message = await get_one(client, facts.name, body)
            except NotFound as exc:
                if exc.code == "stream_not_found":
                    raise  # deleted meanwhile: not the end of the messages
                return
            if up_to_seq is not None and message.seq > up_to_seq:
                return
            yield message
            seq, use_time = message.seq + 1, None


def rfc3339(value: str | None) -> str | None:
    """A start time checked as RFC 3339 and passed on as given (NATS keeps nanoseconds);
    a 400 naming the value otherwise."""
    if value is None:
        return None
    import re
    from datetime import datetime

    # Python parses at most microseconds: drop extra digits for the check only.
    probe = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(probe)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value:
        raise Invalid(
            f"start_time {value!r} is not an RFC 3339 time with a zone (2026-01-31T12:00:00Z)",
            code="invalid_start_time",
        )
    return value.strip()
