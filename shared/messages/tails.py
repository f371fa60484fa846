"""Tailing a stream: one shared poller per stream and subject filter, fanned out.

Every tail of the same stream and filter on the same connection shares ONE poller (a batched
direct get, or MSG.GET, from the last sequence seen, every `poll_seconds`); each message is
turned into its API form once and handed to every subscriber. A subscriber that falls behind
never holds the poller up nor grows without bound: it keeps at most `queue` messages, and the
oldest are skipped, counted, and reported to it. Concurrent tails are capped per user and per
process (`RateLimited`, 429). A tail of a stream that is deleted ends with a reason.

    sub = await hub.subscribe(client, "ORDERS", subject="orders.>", user="u1")
    try:
        async for event in sub:  # TailEvent: a message, a skipped count, or the end
            ...
    finally:
        sub.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from shared import errors
from shared.messages.reader import BATCH_BYTES, StreamFacts, read_forward, stream_facts
from shared.messages.schemas import Message
from shared.messages.services import to_message
from shared.nats import ClusterClient

log = logging.getLogger("jetdeck.tails")

# After a failed read (no stream leader, the cluster briefly away), the poller waits this long.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class TailEvent:
    """What a tail subscriber receives: a `message`; `skipped` (this many messages were
    dropped because the subscriber fell behind); `heartbeat` (nothing happened for a while:
    lets an idle connection show it is alive, through proxies); or `end` (`reason`:
    `stream_deleted`, `connection_closed`), after which nothing follows."""

    kind: Literal["message", "skipped", "heartbeat", "end"]
    message: Message | None = None
    skipped: int = 0
    reason: str | None = None


class TailSubscription:
    """One subscriber of a shared tail: iterate for events; `close()` when done (always)."""

    def __init__(self, hub: TailHub, feed: _Feed, user: str, queue: int) -> None:
        self._heartbeat = hub.heartbeat_seconds
        self._hub, self._feed, self.user = hub, feed, user
        self._queue: deque[Message] = deque()
        self._size = queue
        self._wake = asyncio.Event()
        self.skipped = 0  # not yet reported
        self.ended: str | None = None
        self.closed = False

    def _deliver(self, message: Message) -> None:
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self.skipped += 1
        self._queue.append(message)
        self._wake.set()

    def _end(self, reason: str) -> None:
        self.ended = reason
        self._wake.set()

    def __aiter__(self) -> AsyncIterator[TailEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[TailEvent]:
        while not self.closed:
            if self.skipped:
                skipped, self.skipped = self.skipped, 0
                yield TailEvent("skipped", skipped=skipped)
                continue
            if self._queue:
                yield TailEvent("message", message=self._queue.popleft())
                continue
            if self.ended is not None:
                yield TailEvent("end", reason=self.ended)
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._heartbeat)
            except TimeoutError:
                yield TailEvent("heartbeat")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.clear()
            self._hub._release(self)


class _Feed:
    """The one poller of (connection, stream, filter) and its subscribers."""

    def __init__(
        self, hub: TailHub, key: tuple[int, str, str], client: ClusterClient, facts: StreamFacts
    ) -> None:
        self.hub, self.key, self.client, self.facts = hub, key, client, facts
        self.subject = key[2] or None
        self.subscribers: set[TailSubscription] = set()
        self.seq = facts.last_seq + 1
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"tail {self.facts.name}")

    async def _run(self) -> None:
        reason = "stream_deleted"
        try:
            while self.subscribers:
                try:
                    got = await self._read()
                except errors.NotFound:
                    return
                except errors.Unavailable:
                    if self.client.nc.is_closed:
                        reason = "connection_closed"
                        return
                    if not await self._stream_exists():
                        return
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if not got:
                    await asyncio.sleep(self.hub.poll_seconds)
        finally:
            for sub in list(self.subscribers):
                sub._end(reason)
            self.hub._forget(self)

    async def _read(self) -> bool:
        got = False
        async for stored in read_forward(
            self.client,
            self.facts,
            start_seq=self.seq,
            subject=self.subject,
            batch_bytes=self.hub.batch_bytes,
        ):
            got = True
            self.seq = stored.seq + 1
            message = to_message(stored)  # the API's form, made once for every subscriber
            for sub in list(self.subscribers):
                sub._deliver(message)
        return got

    async def _stream_exists(self) -> bool:
        try:
            await stream_facts(self.client, self.facts.name)
        except errors.NotFound:
            return False
        except errors.JetDeckError:
            return True  # unknown: keep trying
        return True


class TailHub:
    """Every tail of one process (one event loop): shared pollers and the concurrency caps."""

    def __init__(
        self,
        *,
        per_user: int = 10,
        per_process: int = 1000,
        poll_seconds: float = 0.25,
        queue: int = 256,
        batch_bytes: int = BATCH_BYTES,
        heartbeat_seconds: float = 15.0,
    ) -> None:
        self.per_user, self.per_process = per_user, per_process
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds, self.queue, self.batch_bytes = poll_seconds, queue, batch_bytes
        self._feeds: dict[tuple[int, str, str], _Feed] = {}
        self._by_user: Counter[str] = Counter()
        self._total = 0

    @property
    def open_tails(self) -> int:
        return self._total

    @property
    def pollers(self) -> int:
        return len(self._feeds)

    async def subscribe(
        self,
        client: ClusterClient,
        stream: str,
        *,
        subject: str | None = None,
        user: str,
        queue: int | None = None,
    ) -> TailSubscription:
        """A new tail of `stream` (messages stored from now on, matching `subject`), keeping
        at most `queue` unread messages (the hub's default when None). `RateLimited` over a
        cap; `NotFound` for an unknown stream."""
        if self._by_user[user] >= self.per_user:
            raise errors.RateLimited(
                f"You already have {self.per_user} live tails open (the most one user may have"
                ", JETDECK_MESSAGES_TAILS_PER_USER): close one first",
                retry_after=5,
                code="too_many_tails",
            )
        if self._total >= self.per_process:
            raise errors.RateLimited(
                f"This server already serves {self.per_process} live tails (the most it "
                "takes, JETDECK_MESSAGES_TAILS_PER_PROCESS): try again later",
                retry_after=5,
                code="too_many_tails",
            )
        self._by_user[user] += 1  # reserved before the first await, so a burst cannot pass
        self._total += 1
        try:
            key = (id(client), stream, subject or "")
            feed = self._live_feed(key)
            if feed is None:
                facts = await stream_facts(client, stream)
                feed = self._live_feed(key)  # another subscriber may have made it meanwhile
                if feed is None:
                    feed = _Feed(self, key, client, facts)
                    self._feeds[key] = feed
                    feed.start()
            sub = TailSubscription(self, feed, user, queue or self.queue)
            feed.subscribers.add(sub)
            return sub
        except BaseException:
            self._unreserve(user)
            raise

    def _live_feed(self, key: tuple[int, str, str]) -> _Feed | None:
        feed = self._feeds.get(key)
        return feed if feed is not None and feed.task is not None and not feed.task.done() else None

    def _unreserve(self, user: str) -> None:
        self._by_user[user] -= 1
        if self._by_user[user] <= 0:
            del self._by_user[user]
        self._total -= 1

    def _release(self, sub: TailSubscription) -> None:
        self._unreserve(sub.user)
        feed = sub._feed
        feed.subscribers.discard(sub)
        if not feed.subscribers and feed.task is not None and not feed.task.done():
            feed.task.cancel()  # the last subscriber left: the poller stops
            self._forget(feed)

    def _forget(self, feed: _Feed) -> None:
        if self._feeds.get(feed.key) is feed:
            del self._feeds[feed.key]

    async def close(self) -> None:
        feeds = list(self._feeds.values())
        self._feeds.clear()
        for feed in feeds:
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feed.task
