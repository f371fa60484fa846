"""Browse, search, get, delete, publish, export and tail a stream's messages."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec

from shared.audit import record_change
from shared.errors import Invalid
from shared.messages.reader import (
    BATCH_BYTES,
    StoredMessage,
    StreamFacts,
    get_one,
    read_forward,
    rfc3339,
    stream_facts,
)
from shared.messages.schemas import Direction, Message, MessagePage, Published, PublishIn
from shared.nats import ClusterClient
from shared.nats.errors import domain_error
from shared.nats.headers import header_pairs

_json = msgspec.json.Encoder()
MAX_SCAN = 10_000  # messages a search examines per request; `next_seq` continues it
EXPORT_CHUNK = 64 * 1024
PAGE_BYTES = 4 * 1024 * 1024  # payload bytes a page holds at most (JETDECK_MESSAGES_PAGE_BYTES)


def to_message(stored: StoredMessage) -> Message:
    try:
        text: str | None = stored.data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return Message(
        seq=stored.seq,
        subject=stored.subject,
        time=stored.time,
        headers=stored.headers,
        size=len(stored.data),
        data=base64.b64encode(stored.data).decode("ascii"),
        text=text,
    )


def _matches(stored: StoredMessage, needle: bytes | None) -> bool:
    return needle is None or needle in stored.data


@dataclass
class StoredPage:
    """A page as read, before the API's encoding: payloads are bytes (`browse` turns them
    into `Message`s; the console makes its rows from the bytes, never from base64)."""

    messages: list[StoredMessage]
    next_seq: int | None
    scanned: int


async def browse(
    client: ClusterClient,
    stream: str,
    *,
    start_seq: int | None = None,
    start_time: str | None = None,
    subject: str | None = None,
    direction: Direction = "forward",
    limit: int = 100,
    q: str | None = None,
    max_scan: int | None = None,
    page_bytes: int = PAGE_BYTES,
    batch_bytes: int = BATCH_BYTES,
    facts: StreamFacts | None = None,
) -> MessagePage:
    """A page of messages. With `q`, only those whose payload contains it, examining at most
    `max_scan` messages; `next_seq` is where the next request continues (null at the end).
    `facts`: the stream's, when the caller has just read them (saves a STREAM.INFO).

    Memory is bounded whatever the payload size: a page holds at most `page_bytes` of
    payload (at least one message; `next_seq` continues), and NATS is read a batch of at
    most `batch_bytes` at a time."""
    page = await browse_stored(
        client,
        stream,
        start_seq=start_seq,
        start_time=start_time,
        subject=subject,
        direction=direction,
        limit=limit,
        q=q,
        max_scan=max_scan,
        page_bytes=page_bytes,
        batch_bytes=batch_bytes,
        facts=facts,
    )
    return MessagePage(
        messages=[to_message(m) for m in page.messages],
        next_seq=page.next_seq,
        scanned=page.scanned,
    )


async def browse_stored(
    client: ClusterClient,
    stream: str,
    *,
    start_seq: int | None = None,
    start_time: str | None = None,
    subject: str | None = None,
    direction: Direction = "forward",
    limit: int = 100,
    q: str | None = None,
    max_scan: int | None = None,
    page_bytes: int = PAGE_BYTES,
    batch_bytes: int = BATCH_BYTES,
    facts: StreamFacts | None = None,
) -> StoredPage:
    """`browse`, with the payloads left as the bytes NATS sent (in the order `browse` gives
    them: newest first when reading backward)."""
    start_time = rfc3339(start_time)
    facts = facts or await stream_facts(client, stream)
    needle = q.encode() if q else None
    max_scan = max_scan or MAX_SCAN
    if direction == "backward":
        return await _browse_backward(
            client, facts, start_seq, start_time, subject, limit, needle, max_scan,
            page_bytes, batch_bytes,
        )  # fmt: skip
    found: list[StoredMessage] = []
    scanned, last_seq, size = 0, None, 0
    budget = max_scan if needle else limit
    async for stored in read_forward(
        client,
        facts,
        start_seq=start_seq,
        start_time=start_time,
        subject=subject,
        batch=min(256, max(budget, 1)),
        batch_bytes=min(batch_bytes, page_bytes),
    ):
        scanned += 1
        last_seq = stored.seq
        if _matches(stored, needle):
            found.append(stored)
            size += len(stored.data)
        if len(found) >= limit or scanned >= budget or size >= page_bytes:
            break
    else:
        return StoredPage(messages=found, next_seq=None, scanned=scanned)
    more = last_seq is not None and last_seq < facts.last_seq
    return StoredPage(
        messages=found, next_seq=last_seq + 1 if more and last_seq else None, scanned=scanned
    )


async def _start_seq_at(
    client: ClusterClient, facts: StreamFacts, start_time: str, subject: str | None
) -> int:
    async for stored in read_forward(
        client, facts, start_time=start_time, subject=subject, batch=1
    ):
        return stored.seq
    return facts.last_seq


# The most messages one backward window reads (it doubles from the page size up to this).
MAX_WINDOW = 4096


async def _browse_backward(
    client: ClusterClient,
    facts: StreamFacts,
    start_seq: int | None,
    start_time: str | None,
    subject: str | None,
    limit: int,
    needle: bytes | None,
    max_scan: int,
    page_bytes: int,
    batch_bytes: int,
) -> StoredPage:
    """Newest first from `start_seq` (or the last message): windows read forward, each twice
    the last (up to MAX_WINDOW), until the page is full, the scan budget is spent, or the
    stream's start. A window is never held whole: while it is read forward only the newest
    matches the page still has room for are kept (by count and by `page_bytes`)."""
    if start_seq is None and start_time is not None:
        start_seq = await _start_seq_at(client, facts, start_time, subject)
    hi = min(start_seq or facts.last_seq, facts.last_seq)
    first = max(facts.first_seq, 1)
    found: list[StoredMessage] = []
    scanned, window, size = 0, max(limit, 16), 0
    budget = max_scan if needle else max(limit * 64, 4096)
    while hi >= first and len(found) < limit and scanned < budget and size < page_bytes:
        lo = max(first, hi - window + 1)
        room, room_bytes = limit - len(found), page_bytes - size
        kept: deque[StoredMessage] = deque()
        kept_bytes, dropped = 0, False
        async for stored in read_forward(
            client,
            facts,
            start_seq=lo,
            subject=subject,
            up_to_seq=hi,
            batch_bytes=min(batch_bytes, page_bytes),
        ):
            if not _matches(stored, needle):
                continue
            kept.append(stored)
            kept_bytes += len(stored.data)
            # Older matches the page has no room for fall out (the next page starts there):
            # by count, or when the newer ones alone reach the byte budget (as forward, the
            # message that reaches it is the page's last).
            while len(kept) > 1 and (
                len(kept) > room or kept_bytes - len(kept[0].data) >= room_bytes
            ):
                kept_bytes -= len(kept.popleft().data)
                dropped = True
        scanned += hi - lo + 1
        for stored in reversed(kept):
            found.append(stored)
            size += len(stored.data)
        if dropped or len(found) >= limit or size >= page_bytes:
            oldest = kept[0].seq
            return StoredPage(
                messages=found,
                next_seq=oldest - 1 if oldest - 1 >= first else None,
                scanned=scanned,
            )
        hi, window = lo - 1, min(window * 2, MAX_WINDOW)
    return StoredPage(messages=found, next_seq=hi if hi >= first else None, scanned=scanned)


async def get_message(client: ClusterClient, stream: str, seq: int) -> Message:
    return to_message(await get_one(client, stream, {"seq": seq}))


async def last_message(client: ClusterClient, stream: str, subject: str) -> Message:
    return to_message(await get_one(client, stream, {"last_by_subj": subject}))


async def delete_message(client: ClusterClient, stream: str, seq: int, *, erase: bool) -> None:
    before = await get_one(client, stream, {"seq": seq})
    await client.js(f"STREAM.MSG.DELETE.{stream}", {"seq": seq, "no_erase": not erase})
    record_change(f"message:{stream}/{seq}", {"seq": seq, "subject": before.subject}, None)


def subject_matches(filter_: str, subject: str) -> bool:
    """NATS wildcard matching: `*` one token, `>` one or more trailing tokens."""
    f, s = filter_.split("."), subject.split(".")
    for i, part in enumerate(f):
        if part == ">":
            return len(s) > i
        if i >= len(s) or part not in ("*", s[i]):
            return False
    return len(f) == len(s)


def _payload(data: PublishIn) -> bytes:
    if data.text is not None and data.data is not None:
        raise Invalid("Send `text` or `data` (base64), not both", code="invalid_payload")
    if data.data is not None:
        try:
            return base64.b64decode(data.data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("`data` is not valid base64", code="invalid_payload") from None
    return (data.text or "").encode()


async def publish(client: ClusterClient, stream: str, data: PublishIn) -> Published:
    """Publish to one of the stream's subjects; `Nats-Msg-Id` deduplicates within the
    stream's window, and `duplicate` says the stream already had it."""
    if any(c in data.subject for c in "*> \t\r\n"):
        raise Invalid("Publish to a concrete subject, without wildcards", code="invalid_subject")
    facts = await stream_facts(client, stream)
    if not any(subject_matches(f, data.subject) for f in facts.subjects):
        raise Invalid(
            f"Stream {stream!r} does not take subject {data.subject!r}",
            code="subject_not_in_stream",
            extra={"subjects": facts.subjects},
        )
    reply = await client.request_with_headers(
        data.subject, _payload(data), header_pairs(data.headers)
    )
    ack = json.loads(reply.data) if reply.data else {}
    if ack.get("error"):
        raise domain_error(ack["error"], cluster=client.label)
    result = Published(
        seq=int(ack.get("seq") or 0),
        duplicate=bool(ack.get("duplicate")),
        stream=str(ack.get("stream") or stream),
    )
    if not result.duplicate:
        record_change(
            f"message:{stream}/{result.seq}",
            None,
            {"subject": data.subject, "headers": data.headers or {}},
        )
    return result


CSV_COLUMNS = ["seq", "subject", "time", "size", "headers", "data", "text"]


async def export(
    client: ClusterClient,
    stream: str,
    *,
    fmt: str = "ndjson",
    start_seq: int | None = None,
    start_time: str | None = None,
    subject: str | None = None,
    q: str | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> AsyncIterator[bytes]:
    """The stream's messages as NDJSON lines or CSV rows, in chunks of about 64 KiB: memory
    stays one direct-get batch (at most `batch_bytes`, or one bigger message) plus one chunk
    however long the stream is."""
    if fmt not in ("ndjson", "csv"):
        raise Invalid("format is ndjson or csv", code="invalid_format")
    start_time = rfc3339(start_time)
    facts = await stream_facts(client, stream)
    needle = q.encode() if q else None

    async def chunks() -> AsyncIterator[bytes]:
        text = io.StringIO()  # CSV rows
        lines = bytearray()  # NDJSON lines, encoded straight to bytes by msgspec
        writer = csv.writer(text, lineterminator="\n") if fmt == "csv" else None
        if writer:
            writer.writerow(CSV_COLUMNS)
        async for stored in read_forward(
            client,
            facts,
            start_seq=start_seq,
            start_time=start_time,
            subject=subject,
            up_to_seq=facts.last_seq,
            batch_bytes=batch_bytes,
        ):
            if not _matches(stored, needle):
                continue
            m = to_message(stored)
            if writer:
                headers = json.dumps(m.headers) if m.headers else ""
                writer.writerow([m.seq, m.subject, m.time, m.size, headers, m.data, m.text])
                if text.tell() >= EXPORT_CHUNK:
                    yield text.getvalue().encode()
                    text.seek(0)
                    text.truncate()
            else:
                lines += _json.encode(m)
                lines += b"\n"
                if len(lines) >= EXPORT_CHUNK:
                    yield bytes(lines)
                    lines.clear()
        if text.tell():
            yield text.getvalue().encode()
        if lines:
            yield bytes(lines)

    return chunks()
