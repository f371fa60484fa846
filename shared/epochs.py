"""Epochs: counters in Redis that tell every JetDeck process that something changed.

A process that caches something shared (who may do what, a cluster's stream listing) keeps,
with each entry, the value of a counter read *before* it computed the entry, and uses the
entry only while the counter still holds that value. Whoever changes the thing increments
the counter once the change is made, so the change shows on the next request in every
process, at the price of one Redis GET per request.

Concurrent readers of one counter share a GET, but never one sent before they arrived:
readers that arrive while no GET is on its way share the next one; a reader arriving once
it is sent waits for the one after. So a change whose increment completed before a request
arrived is always seen by it.

When Redis cannot be read the value is `UNREADABLE`, which equals no cached value: the
caller must not use what it cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Generic, Protocol, TypeVar

import redis.asyncio as aioredis

log = logging.getLogger("jetdeck.epochs")

K = TypeVar("K")
V = TypeVar("V")


class Unreadable:
    """The epoch could not be read: do not use what was cached."""


UNREADABLE = Unreadable()
Epoch = bytes | None | Unreadable


class EpochReader:
    """Reads one counter for many concurrent requests with one GET, never answering a request
    with a value read before it arrived (see the module's docstring)."""

    def __init__(self, redis: aioredis.Redis, key: str):
        self._redis = redis
        self._key = key
        self._next: asyncio.Future[Epoch] | None = None
        self._sending: asyncio.Future[None] | None = None

    async def read(self) -> Epoch:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # The GET goes out on the loop's next turn: every request arriving until then joins.
            self._sending = asyncio.ensure_future(self._send(self._next))
        return await asyncio.shield(self._next)

    async def _send(self, batch: asyncio.Future[Epoch]) -> None:
        self._next = None  # from here on, arrivals wait for a later GET
        try:
            raw = await self._redis.get(self._key)
            value: Epoch = raw.encode() if isinstance(raw, str) else raw
        except Exception:  # Redis trouble must not fail the request: the caller reads afresh
            log.warning(
                "cannot read %s from Redis; not using cached values", self._key, exc_info=True
            )
            value = UNREADABLE
        if not batch.done():
            batch.set_result(value)


_readers: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, EpochReader]] = (
    weakref.WeakKeyDictionary()
)


async def read_epoch(redis: aioredis.Redis, key: str) -> Epoch:
    """The counter `key` as a GET sent after this call began reads it (shared by callers)."""
    readers = _readers.get(redis)
    if readers is None:
        readers = _readers[redis] = {}
    reader = readers.get(key)
    if reader is None:
        reader = readers[key] = EpochReader(redis, key)
    return await reader.read()


async def bump_epoch(redis: aioredis.Redis, key: str, *, lapses: str) -> bool:
    """Increment `key` after a change; False (logged) when Redis did not take it, in which
    case other processes see the change only once their cached value lapses (`lapses` says
    when, for the log)."""
    try:
        await redis.incr(key)
    except Exception:
        log.error("cannot bump %s in Redis; %s", key, lapses, exc_info=True)
        return False
    return True


class Epochs(Protocol):
    """Per-key epochs: `read` before using what was cached for a key, `bump` after a change."""

    async def read(self, key: str) -> Epoch: ...

    async def bump(self, key: str) -> None: ...


class LocalEpochs:
    """Epochs known to this process only: for a process without Redis (nothing else shares
    its caches) and for clients made outside a pool."""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    async def read(self, key: str) -> Epoch:
        return str(self._values.get(key, 0)).encode()

    async def bump(self, key: str) -> None:
        self._values[key] = self._values.get(key, 0) + 1


class RedisEpochs:
    """Epochs every process shares: the Redis counter `<prefix><key>`. A lost increment
    (Redis down at that moment) is logged; `lapses` says when others see the change anyway."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, lapses: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lapses = lapses

    async def read(self, key: str) -> Epoch:
        return await read_epoch(self.redis, self.prefix + key)

    async def bump(self, key: str) -> None:
        await bump_epoch(self.redis, self.prefix + key, lapses=self.lapses)


class EpochCache(Generic[K, V]):
    """Values this process computed, used while the Redis counter `key` still holds the value
    read before each was computed, and for `max_age` seconds at most (which bounds the harm of
    a lost increment). One store per Redis client (per `Backends`); without Redis, or when it
    cannot be read, nothing is cached.

        epoch = await cache.epoch(redis)       # first, on every request
        value = cache.get(redis, name, epoch)  # None: compute it, then
        cache.put(redis, name, epoch, value)
        await cache.changed(redis)             # after committing a change
    """

    def __init__(self, key: str, *, max_age: float, max_entries: int = 10_000) -> None:
        self.key = key
        self.max_age = max_age
        self.max_entries = max_entries
        self._stores: weakref.WeakKeyDictionary[aioredis.Redis, dict[K, tuple[Epoch, float, V]]]
        self._stores = weakref.WeakKeyDictionary()

    async def epoch(self, redis: aioredis.Redis | None) -> Epoch:
        return UNREADABLE if redis is None else await read_epoch(redis, self.key)

    def get(self, redis: aioredis.Redis | None, name: K, epoch: Epoch) -> V | None:
        if redis is None or isinstance(epoch, Unreadable):
            return None
        store = self._stores.get(redis)
        hit = store.get(name) if store is not None else None
        if store is None or hit is None:
            return None
        if hit[0] != epoch or time.monotonic() - hit[1] > self.max_age:
            del store[name]
            return None
        return hit[2]

    def put(self, redis: aioredis.Redis | None, name: K, epoch: Epoch, value: V) -> None:
        if redis is None or isinstance(epoch, Unreadable):
            return
        store = self._stores.setdefault(redis, {})
        if len(store) >= self.max_entries:
            store.clear()  # crude, but bounded and rare: entries live max_age at most
        store[name] = (epoch, time.monotonic(), value)

    async def changed(self, redis: aioredis.Redis | None) -> None:
        """After committing a change: this process forgets at once, the others on their next
        read of the epoch."""
        if redis is None:
            return
        self._stores.pop(redis, None)
        await bump_epoch(redis, self.key, lapses=f"cached values lapse within {self.max_age:g}s")
