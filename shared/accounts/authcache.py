"""A short in-process cache of what a bearer token grants, kept honest by an epoch in Redis.

Resolving a token takes database round trips; doing them on every request would cost more
than the request itself. So each process remembers, per (token, organization), the principal
and role it resolved, together with the value of the Redis counter `jetdeck:auth:epoch` read
before resolving. Every change that can withdraw access (sign-out, refresh-token reuse,
deactivation, key revocation, a role change or removal) increments that counter once it has
committed, and an entry is used only while the counter still holds its value: the withdrawal
takes effect on the next request in every process, at the price of one Redis GET
(shared/epochs.py).

Entries also lapse after `MAX_AGE` seconds and at the token's own expiry, which bounds the
harm should an increment be lost (Redis down at that moment). When Redis cannot be read,
nothing is cached and every request resolves from the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from shared.accounts.principals import OrgContext, Principal
from shared.epochs import UNREADABLE, Epoch, Unreadable, bump_epoch, read_epoch

EPOCH_KEY = "jetdeck:auth:epoch"
MAX_AGE = 30.0
MAX_ENTRIES = 10_000


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


async def current_epoch(redis: aioredis.Redis | None) -> Epoch:
    if redis is None:
        return UNREADABLE
    return await read_epoch(redis, EPOCH_KEY)


async def access_withdrawn(redis: aioredis.Redis | None) -> None:
    """Call after committing a change that takes access away from someone."""
    grants.clear()  # this process at once; the others through the epoch
    if redis is not None:
        await bump_epoch(redis, EPOCH_KEY, lapses=f"cached access lapses within {MAX_AGE:g}s")
