"""A cluster's stream listing: fetched once for many requests, never older than a change made
through JetDeck, in any process.

Listing every stream is `STREAM.LIST` page after page (256 streams a page), each with its full
info: 2,000 streams are 8 requests and megabytes of JSON to decode. The console and the API
search, sort and page that listing on every request, so each process keeps it per connection
(and NATS subject filter):

- concurrent requests share the fetch in flight, and a fetched listing serves the requests
  that follow for at most `LISTING_TTL` seconds: what changes outside JetDeck (the nats CLI,
  applications publishing) shows within that;
- every change made through JetDeck that a listing shows (a stream created, updated, deleted
  or purged, a consumer created or deleted) calls `listing_changed`, which drops this
  process's listing and bumps the cluster's epoch (`client.epochs`, shared/epochs.py: a Redis
  counter, so every process sees it). A listing is used only while the epoch still holds the
  value read before its fetch began, and each request reads the epoch after it arrived: the
  request after a change reads afresh, whichever process it reaches;
- a request may always use a fetch begun after it arrived (nothing it must see can be
  missing from it), so requests waiting for the same epoch read share one fetch; when Redis
  cannot be read, or the connection is down (reconnecting: the cluster may be gone, and must
  answer 503 rather than what it listed before), that is the only sharing.

Messages published or deleted one by one change only the figures of a stream (messages,
bytes, last sequence), not the listing's streams, and show within the TTL like any other
publisher's: bumping the epoch for each would make a busy console re-list every time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any
from weakref import WeakKeyDictionary

from shared.epochs import Epoch, Unreadable
from shared.nats import ClusterClient
from shared.streams.schemas import StreamSummary

LISTING_TTL = 5.0
MAX_VIEWS = 64  # searches and sorts of one listing kept with it
MAX_FILTERS = 32  # subject-filtered listings kept per cluster
Listing = list[tuple[StreamSummary, dict[str, Any]]]

# Orders request arrivals and fetches: a fetch numbered after a request began after it.
_serial = itertools.count()


def summary(info: dict[str, Any]) -> StreamSummary:
    config, state = info.get("config") or {}, info.get("state") or {}
    return StreamSummary(
        name=config.get("name", ""),
        subjects=list(config.get("subjects") or []),
        retention=config.get("retention", "limits"),
        storage=config.get("storage", "file"),
        replicas=int(config.get("num_replicas") or 1),
        messages=int(state.get("messages") or 0),
        bytes=int(state.get("bytes") or 0),
        consumers=int(state.get("consumer_count") or 0),
        first_seq=int(state.get("first_seq") or 0),
        last_seq=int(state.get("last_seq") or 0),
        last_ts=state.get("last_ts") if int(state.get("last_seq") or 0) else None,
        created=info.get("created"),
    )


async def fetch_listing(client: ClusterClient, subject: str | None) -> Listing:
    """Every stream's summary and full info now (those with subjects matching `subject`)."""
    body = {"subject": subject} if subject else None
    return [(summary(i), i) async for i in client.js_paged("STREAM.LIST", "streams", body)]


class Entry:
    """One listing (a fetch shared by the requests it may serve) and its searched and sorted
    views, kept as long as the listing."""

    def __init__(self, epoch: Epoch, task: asyncio.Task[Listing]):
        self.serial = next(_serial)
        self.epoch = epoch
        self.made = time.monotonic()
        self.task = task
        self.views: dict[tuple[str | None, str], Listing] = {}
        # What a reader derived from the whole listing (the dashboard's streams nearest their
        # limits), kept as long as the listing: by name.
        self.derived: dict[str, Any] = {}

    def failed(self) -> bool:
        return self.task.done() and (self.task.cancelled() or self.task.exception() is not None)

    def serves(self, epoch: Epoch, arrived: int, connected: bool) -> bool:
        """Whether a request that arrived as `arrived` and then read `epoch` may use it (on a
        connection that is `connected` now: a cluster that went away answers 503, not what
        it listed before)."""
        if self.failed():
            return False
        if self.serial > arrived:  # begun after the request arrived
            return True
        return (
            connected
            and not isinstance(epoch, Unreadable)
            and epoch == self.epoch
            and time.monotonic() - self.made < LISTING_TTL
        )


_listings: WeakKeyDictionary[ClusterClient, dict[str | None, Entry]] = WeakKeyDictionary()


def _retrieved(task: asyncio.Task[Listing]) -> None:
    if not task.cancelled():
        task.exception()  # every waiter may have gone: not "never retrieved"


def _prune(entries: dict[str | None, Entry]) -> None:
    now = time.monotonic()
    for subject, entry in list(entries.items()):
        if entry.task.done() and (now - entry.made >= LISTING_TTL or entry.failed()):
            del entries[subject]
    while len(entries) >= MAX_FILTERS:
        del entries[next(iter(entries))]  # the oldest


async def cached_listing(client: ClusterClient, subject: str | None) -> tuple[Entry, Listing]:
    """The listing a request arriving now may use (see the module's docstring), and its entry."""
    arrived = next(_serial)
    epoch = await client.epochs.read(client.key)
    entries = _listings.setdefault(client, {})
    entry = entries.get(subject)
    if entry is None or not entry.serves(epoch, arrived, client.connected):
        task = asyncio.ensure_future(fetch_listing(client, subject))
        task.add_done_callback(_retrieved)
        entry = Entry(epoch, task)
        entries.pop(subject, None)
        _prune(entries)
        entries[subject] = entry
    try:
        # shielded: a request that goes away does not end the fetch the others wait for
        return entry, await asyncio.shield(entry.task)
    except Exception:
        if entries.get(subject) is entry:
            entries.pop(subject, None)
        raise


def forget_listing(client: ClusterClient) -> None:
    """Drop this process's listings of the cluster (others keep theirs: `listing_changed`)."""
    _listings.pop(client, None)


async def listing_changed(client: ClusterClient) -> None:
    """After a change the listing shows: this process drops its listings at once, every
    process (through the cluster's epoch) on its next request."""
    forget_listing(client)
    await client.epochs.bump(client.key)
