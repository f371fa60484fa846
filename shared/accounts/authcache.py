"""A short in-process cache of what a bearer token grants, kept honest by an epoch in Redis.

Resolving a token takes database round trips; doing them on every request would cost more
than the request itself. So each process remembers, per (token, organization), the principal
and role it resolved, together with the value of the Redis counter `jetdeck:auth:epoch` read
before resolving. Every change that can withdraw access (sign-out, refresh-token reuse,
deactivation, key revocation, a role change or removal) increments that counter once it has
committed, and an entry is used only while the counter still holds its value: the withdrawal
takes effect on the next request in every process, at the price of one Redis GET.

Entries also lapse after `MAX_AGE` seconds and at the token's own expiry, which bounds the
harm should an increment be lost (Redis down at that moment). When Redis cannot be read,
nothing is cached and every request resolves from the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis

from shared.accounts.principals import OrgContext, Principal

log = logging.getLogger("jetdeck.accounts")

EPOCH_KEY = "jetdeck:auth:epoch"
MAX_AGE = 30.0
MAX_ENTRIES = 10_000


class Unreadable:
    """The epoch could not be read: do not cache."""


UNREADABLE = Unreadable()
Epoch = bytes | None | Unreadable


@dataclass
class Grant:
    epoch: bytes | None
    made: float  # time.monotonic()
    valid_until: float | None  # wall-clock seconds: the token's or key's own expiry
    principal: Principal
    org: OrgContext | None


class GrantCache:
    def __init__(self) -> None:
        self._grants: dict[bytes, Grant] = {}

    def get(self, key: bytes, epoch: Epoch) -> Grant | None:
        grant = self._grants.get(key)
        if grant is None or isinstance(epoch, Unreadable):
            return None
        if (
            grant.epoch != epoch
            or time.monotonic() - grant.made > MAX_AGE
            or (grant.valid_until is not None and time.time() >= grant.valid_until)
        ):
            self._grants.pop(key, None)
            return None
        return grant

    def put(self, key: bytes, grant: Grant) -> None:
        if len(self._grants) >= MAX_ENTRIES:
            self._grants.clear()  # crude, but bounded and rare: entries live 30 s at most
        self._grants[key] = grant

    def clear(self) -> None:
        self._grants.clear()


grants = GrantCache()


class EpochReader:
    """Reads the epoch for many concurrent requests with one GET, without ever answering a
    request with a value read before it arrived: requests that arrive while no GET has been
    sent yet share the next one; a request arriving once it is sent waits for the one after.
    So a withdrawal committed before a request arrived is always seen by it."""

    def __init__(self, redis: aioredis.Redis):
        self._redis = redis
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
            raw = await self._redis.get(EPOCH_KEY)
            value: Epoch = raw.encode() if isinstance(raw, str) else raw
        except Exception:  # Redis trouble must not lock everyone out: use the database
            log.warning("cannot read the access epoch from Redis; not caching", exc_info=True)
            value = UNREADABLE
        if not batch.done():
            batch.set_result(value)


_readers: weakref.WeakKeyDictionary[aioredis.Redis, EpochReader] = weakref.WeakKeyDictionary()


async def current_epoch(redis: aioredis.Redis | None) -> Epoch:
    if redis is None:
        return UNREADABLE
    reader = _readers.get(redis)
    if reader is None:
        reader = _readers[redis] = EpochReader(redis)
    return await reader.read()


async def access_withdrawn(redis: aioredis.Redis | None) -> None:
    """Call after committing a change that takes access away from someone."""
    grants.clear()  # this process at once; the others through the epoch
    if redis is None:
        return
    try:
        await redis.incr(EPOCH_KEY)
    except Exception:
        log.error(
            "cannot bump the access epoch in Redis; cached access lapses within %ss",
            MAX_AGE,
            exc_info=True,
        )
