"""The Messages tab's view of a stream: a page of rows at a position that lives in the URL.

A position is one of: the first messages, the last, from a sequence forward, up to a
sequence backward, or from a time (RFC 3339, or "5m" / "1h ago"). Rows always come oldest
first; `prev` and `next` are the positions of the neighbouring pages. With a payload search
(`q`) the page also says how many messages were scanned and where the scan continues.

A page keeps at most `PAGE_PAYLOAD_BYTES` of payload across all its rows (each row's share
of it is what its preview is made from), so a page holding an 8 MiB message costs the
template what any other page does. Reading goes through `services.browse_stored` (the
payloads stay bytes: rows never go through the API's base64): direct gets or `MSG.GET`,
never a consumer, so Limits, WorkQueue and Interest streams are left unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from shared.errors import Invalid, Unavailable
from shared.messages.payloads import (
    PREVIEW_CHARS,
    SHOWN_BYTES,
    HeaderRow,
    PayloadView,
    header_count,
    header_rows,
    nats_get_command,
    payload_view,
    preview,
)
from shared.messages.reader import (
    BATCH_BYTES,
    StoredMessage,
    StreamFacts,
    get_one,
    rfc3339,
    stream_facts,
)
from shared.messages.schemas import Message
from shared.messages.services import PAGE_BYTES, StoredPage, browse_stored
from shared.nats import ClusterClient

PAGE_PAYLOAD_BYTES = 16 * 1024
PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE = 50
ROW_PREFIX_MAX = 1024  # no row needs more than this for a one-line preview
SEARCH_SCAN = 10_000  # messages a search examines per page request

Seek = Literal["first", "last", "seq", "before", "time"]
_AGO = re.compile(r"^\s*(\d+)\s*([smhdw])\s*(?:ago)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Position:
    """Where a page is: `first`, `last`, `seq` (from `seq` forward), `before` (up to `seq`,
    backward) or `time` (from `time` forward). `query()` gives its URL parameters."""

    seek: Seek = "first"
    seq: int | None = None
    time: str | None = None  # RFC 3339 UTC, resolved from what the user typed

    def query(self) -> dict[str, str]:
        if self.seek in ("seq", "before"):
            return {"seek": self.seek, "seq": str(self.seq)}
        if self.seek == "time":
            return {"seek": "time", "time": self.time or ""}
        return {"seek": self.seek}


def parse_time(value: str, now: datetime | None = None) -> str:
    """A time the user typed: RFC 3339 (`2026-01-31T12:00:00Z`), a zone-less date-time taken
    as UTC, or a relative one (`5m`, `1h ago`, `24h`, `7d`) → RFC 3339 UTC."""
    text = value.strip()
    match = _AGO.match(text)
    if match:
        moment = (now or datetime.now(UTC)) - timedelta(
            seconds=int(match.group(1)) * _SECONDS[match.group(2).lower()]
        )
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text):
        text += ":00"  # a date-time field may leave out the seconds; RFC 3339 may not
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", text):
        text += "Z"  # nor a zone: UTC
    checked = rfc3339(text)
    assert checked is not None
    if int(checked[:4]) >= 2262:  # NATS keeps nanoseconds in an int64: later times wrap
        raise Invalid(f"{value!r} is too far in the future", code="invalid_start_time")
    return checked


def parse_position(
    seek: str | None = None, seq: str | int | None = None, time: str | None = None
) -> Position:
    """A position from URL parameters; `Invalid` naming the parameter when it is wrong."""
    seek = (seek or ("time" if time else "seq" if seq not in (None, "") else "first")).lower()
    if seek in ("first", "last"):
        return Position(seek)  # type: ignore[arg-type]
    if seek in ("seq", "before"):
        try:
            number = int(str(seq))
        except ValueError:
            raise Invalid(f"seq {seq!r} is not a sequence number", code="invalid_seq") from None
        if number < 1:
            raise Invalid("seq starts at 1", code="invalid_seq")
        return Position(seek, seq=number)  # type: ignore[arg-type]
    if seek == "time":
        if not time:
            raise Invalid("seek=time needs a time", code="invalid_start_time")
        return Position("time", time=parse_time(time))
    raise Invalid(
        f"seek {seek!r} is not one of first, last, seq, before, time", code="invalid_seek"
    )


@dataclass(frozen=True)
class MessageRow:
    seq: int
    time: str | None  # UTC as NATS stamped it (RFC 3339, nanoseconds)
    epoch_ms: int | None  # the same instant for the browser's local rendering
    subject: str
    size: int
    headers: int  # header count, repeats included
    preview: str  # one line, control characters escaped
    preview_format: str  # json, msgpack, cbor, text or hex

    @property
    def utc_text(self) -> str:
        """The time as the list shows it before the page's script makes it local:
        `2026-01-31 12:00:00` (UTC, to the second)."""
        return self.time[:19].replace("T", " ") if self.time else ""


@dataclass(frozen=True)
class SearchProgress:
    """Where a payload search stands: `scanned` messages examined for this page; when
    `continue_seq` is set the bound was reached there and the next request resumes."""

    q: str
    scanned: int
    continue_seq: int | None
    direction: Literal["forward", "backward"]

    @property
    def bounded(self) -> bool:
        return self.continue_seq is not None

    @property
    def continue_at(self) -> Position | None:
        """The position of the "continue" link (carry `q` and `subject` along)."""
        if self.continue_seq is None:
            return None
        seek: Seek = "before" if self.direction == "backward" else "seq"
        return Position(seek, seq=self.continue_seq)


@dataclass
class MessagePageView:
    stream: str
    position: Position
    rows: list[MessageRow]  # oldest first
    prev: Position | None  # the page before (older); None at the stream's start
    next: Position | None  # the page after (newer); None at its end
    first_seq: int
    last_seq: int
    messages: int  # the stream's message count
    subject: str | None
    search: SearchProgress | None
    payload_bytes: int  # payload kept for this page's rows (≤ PAGE_PAYLOAD_BYTES)
    limit: int = DEFAULT_PAGE


@lru_cache(maxsize=4096)
def _utc_seconds(whole: str) -> int:
    """`2026-01-31T12:00:00` (UTC) → epoch seconds; a page's rows share few seconds."""
    return int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())


def epoch_ms(time: str | None) -> int | None:
    """Milliseconds since the epoch of a NATS time stamp (nanosecond RFC 3339)."""
    if not time:
        return None
    # NATS stamps UTC as `2026-01-31T12:00:00.123456789Z`: read without a parser per row.
    if len(time) >= 20 and time[-1] == "Z" and time[10] == "T" and time[19] in ".Z":
        fraction = time[20:-1]
        if fraction.isdigit() or not fraction:
            try:
                seconds = _utc_seconds(time[:19])
            except ValueError:
                return None
            return seconds * 1000 + (int(fraction[:3].ljust(3, "0")) if fraction else 0)
    probe = re.sub(r"(\.\d{6})\d+", r"\1", time.strip()).replace("Z", "+00:00")
    try:
        return math.floor(datetime.fromisoformat(probe).timestamp() * 1000)
    except ValueError:
        return None


def _prefix(message: Message, limit: int) -> bytes:
    """The first `limit` payload bytes, decoding only as much base64 as they take."""
    return base64.b64decode(message.data[: math.ceil(limit / 3) * 4])[:limit]


def to_rows(
    messages: Sequence[Message | StoredMessage], budget: int = PAGE_PAYLOAD_BYTES
) -> tuple[list[MessageRow], int]:
    """Rows for messages, each preview made from its share of `budget` payload bytes;
    returns the rows and the payload bytes they used. A `StoredMessage` (as read: the
    payload in bytes) is cut as it is; a `Message` (the API's, base64) has only the bytes
    its preview needs decoded."""
    share = min(ROW_PREFIX_MAX, budget // max(len(messages), 1))
    rows, used = [], 0
    for m in messages:
        if isinstance(m, StoredMessage):
            size = len(m.data)
            head = m.data[: min(share, size)]
        else:
            size = m.size
            head = _prefix(m, min(share, size))
        used += len(head)
        shown = preview(head, size, PREVIEW_CHARS)
        rows.append(
            MessageRow(
                seq=m.seq,
                time=m.time,
                epoch_ms=epoch_ms(m.time),
                subject=m.subject,
                size=size,
                headers=header_count(m.headers),
                preview=shown.text,
                preview_format=shown.format,
            )
        )
    return rows, used


async def message_page(
    client: ClusterClient,
    stream: str,
    position: Position,
    *,
    subject: str | None = None,
    q: str | None = None,
    limit: int = DEFAULT_PAGE,
    max_scan: int = SEARCH_SCAN,
    facts: StreamFacts | None = None,
    facts_later: Awaitable[StreamFacts] | None = None,
    page_bytes: int = PAGE_BYTES,
    batch_bytes: int = BATCH_BYTES,
) -> MessagePageView:
    """One page of the Messages tab at `position`, filtered by `subject` (NATS wildcards)
    and, with `q`, by payload content. `facts`: the stream's, when the caller has just read
    them: the page then costs NATS the read alone. `facts_later`: the stream's, from a
    STREAM.INFO the caller has asked and the read need not wait for (`_read_beside_info`)."""
    limit = max(1, min(limit, max(PAGE_SIZES)))
    subject = subject.strip() or None if subject else None
    q = q or None
    backward = position.seek in ("last", "before")
    start_seq = position.seq if position.seek in ("seq", "before") else None

    def read(given: StreamFacts | None) -> Coroutine[Any, Any, StoredPage]:
        return browse_stored(
            client,
            stream,
            start_seq=start_seq,
            start_time=position.time if position.seek == "time" else None,
            subject=subject,
            direction="backward" if backward else "forward",
            limit=limit,
            q=q,
            max_scan=max_scan,
            page_bytes=page_bytes,
            batch_bytes=batch_bytes,
            facts=given,
        )

    if facts_later is not None:
        known, page = await _read_beside_info(stream, facts_later, read, speculate=not backward)
    elif facts is None:
        # The stream's figures for the links, asked alongside the read: no extra round trip.
        known, page = await asyncio.gather(stream_facts(client, stream), read(None))
    else:
        known, page = facts, await read(facts)
    facts = known
    last = max([facts.last_seq, *(m.seq for m in page.messages)])
    found = list(reversed(page.messages)) if backward else page.messages
    rows, used = to_rows(found)
    first = facts.first_seq
    if backward:
        older = Position("before", seq=page.next_seq) if page.next_seq else None
        newer_from = rows[-1].seq + 1 if rows else (start_seq or last) + 1
        newer = Position("seq", seq=newer_from) if newer_from <= last and rows else None
        if position.seek == "before" and not rows and start_seq and start_seq < last:
            newer = Position("seq", seq=start_seq + 1)
    else:
        newer = Position("seq", seq=page.next_seq) if page.next_seq else None
        older_to = rows[0].seq - 1 if rows else (page.next_seq or last + 1) - 1
        older = Position("before", seq=older_to) if rows and older_to >= max(first, 1) else None
        if not rows and start_seq and start_seq > first:
            older = Position("before", seq=min(start_seq - 1, last))
        elif not rows and position.seek == "time" and facts.messages:
            older = Position("before", seq=last)  # a time after the newest message
    search = None
    if q:
        search = SearchProgress(
            q=q,
            scanned=page.scanned,
            continue_seq=page.next_seq if len(found) < limit else None,
            direction="backward" if backward else "forward",
        )
    return MessagePageView(
        stream=stream,
        position=position,
        rows=rows,
        prev=older,
        next=newer,
        first_seq=first,
        last_seq=last,
        messages=facts.messages,
        subject=subject,
        search=search,
        payload_bytes=used,
        limit=limit,
    )


# What a read started before the stream's INFO answered assumes: direct gets (most streams
# allow them), the stream starting at 1, and no last sequence yet (fixed up afterwards).
_UNKNOWN_LAST = 2**63


async def _read_beside_info(
    stream: str,
    facts_later: Awaitable[StreamFacts],
    read: Callable[[StreamFacts | None], Coroutine[Any, Any, StoredPage]],
    *,
    speculate: bool,
) -> tuple[StreamFacts, StoredPage]:
    """The facts and the page, the read overlapping the INFO request: a forward read starts
    at once as direct gets, which is what NATS answers when the stream allows them. A stream
    without direct gets answers that read with "no responders"; it is then read again with
    MSG.GET. A backward read needs the stream's last sequence: it waits for the facts."""
    if not speculate:
        known = await facts_later
        return known, await read(known)
    guess = StreamFacts(stream, True, 0, _UNKNOWN_LAST, [], 0)
    early = asyncio.ensure_future(read(guess))
    early.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved, if unused
    try:
        known = await facts_later
    except BaseException:
        early.cancel()
        raise
    if not known.allow_direct:
        early.cancel()
        return known, await read(known)
    try:
        page = await early
    except (Unavailable, Invalid):
        return known, await read(known)  # the same read knowing the facts: its own answer
    if page.next_seq is not None and page.next_seq - 1 >= known.last_seq:
        page.next_seq = None  # the guess had no last sequence: read up to it, nothing after
    return known, page


@dataclass
class MessageView:
    """One message's page: its headers (NATS' own marked, repeats kept), its payload in the
    detected or asked-for format, and what the copy buttons copy."""

    stream: str
    seq: int
    subject: str
    time: str | None
    epoch_ms: int | None
    size: int
    headers: list[HeaderRow]
    payload: PayloadView
    command: str  # `nats stream get STREAM SEQ`, shell-quoted
    data_base64: str  # the shown payload (all of it with full=True), for the copy button


async def message_view(
    client: ClusterClient, stream: str, seq: int, *, fmt: str | None = None, full: bool = False
) -> MessageView:
    """The message at `seq` (NotFound when deleted or beyond the stream). Its payload is
    rendered from the first 64 KiB unless `full`."""
    m = await get_one(client, stream, {"seq": seq})  # bytes: no base64 round trip
    size = len(m.data)
    data = m.data if full else m.data[: SHOWN_BYTES + 1]
    shown = payload_view(data, fmt=fmt, full=full)
    shown.size = size
    shown.truncated = shown.shown < size
    return MessageView(
        stream=stream,
        seq=m.seq,
        subject=m.subject,
        time=m.time,
        epoch_ms=epoch_ms(m.time),
        size=size,
        headers=header_rows(m.headers),
        payload=shown,
        command=nats_get_command(stream, m.seq),
        data_base64=base64.b64encode(data[: shown.shown]).decode("ascii"),
    )
