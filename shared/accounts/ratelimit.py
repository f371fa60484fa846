"""Sign-in attempt limits, per account and per client IP, in Redis (fixed one-minute windows).

An attempt takes its place in the window atomically *before* the password is hashed (one
MULTI/EXEC: create the window if missing, increment, read its expiry), so a concurrent burst
gets no more than the limit of guesses: the eleventh of forty simultaneous attempts is refused
without being checked. A right password gives its place back; a wrong one keeps it. Once a
window holds the limit, every attempt is refused until it expires, a right password included,
so guessing cannot continue by luck of timing.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from shared.errors import RateLimited

WINDOW = 60

# Give back an attempt only to a window that still exists (a DECR would create a key that
# never expires).
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


def _keys(email: str, ip: str | None) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [f"jetdeck:login-failures:account:{account}"]
    if ip:
        keys.append(f"jetdeck:login-failures:ip:{ip}")
    return keys


async def take_attempt(redis: aioredis.Redis, email: str, ip: str | None, limit: int) -> None:
    """Count this attempt in its account's and its IP's windows; 429 when either is over."""
    keys = _keys(email, ip)
    async with redis.pipeline(transaction=True) as pipe:
        for key in keys:
            pipe.set(key, 0, ex=WINDOW, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        results = await pipe.execute()
    for i in range(len(keys)):
        count, ttl = int(results[3 * i + 1]), int(results[3 * i + 2])
        if count > limit:
            raise RateLimited(
                "Too many failed sign-in attempts; try again later.",
                retry_after=max(ttl, 1),
                code="too_many_attempts",
            )


async def give_back_attempt(redis: aioredis.Redis, email: str, ip: str | None) -> None:
    """The attempt succeeded: it does not count against the limit."""
    keys = _keys(email, ip)
    await redis.eval(_GIVE_BACK, len(keys), *keys)
