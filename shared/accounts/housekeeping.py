"""Housekeeping: delete sign-in rows that can never be used again.

A row goes only once no request could tell it from a missing one, and a safety margin
later (at least an hour, and never less than an access token's lifetime):

- refresh tokens, a login's whole family at once, once the family's newest token has expired;
  and, in a login that lives on, each used token once it has expired itself. Reuse detection
  needs a used token to be recognised while it could still be presented; an expired token is
  refused before it is checked for reuse, so an expired token can revoke nothing, and a
  purged one is simply unknown (401). A login that refreshes every 15 minutes for months thus
  keeps only the tokens of its last refresh-token lifetime;
- web sessions that have expired;
- invitations that were accepted or have expired (accepting either already answers 404);
- logins left with neither refresh tokens nor web sessions, so their access tokens, expired
  by then, name nothing.

Not user mutations: nothing is audited. Deletes run in bounded batches, one short transaction
each, so a large backlog never holds locks for long.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, exists, func, or_, select

from shared.accounts.models import Invitation, Login, RefreshToken, WebSession
from shared.accounts.sessions import database
from shared.backends import Backends
from shared.db.base import utcnow

BATCH_SIZE = 1000
MIN_MARGIN = timedelta(hours=1)

Purgeable = type[RefreshToken] | type[WebSession] | type[Invitation] | type[Login]


def safety_margin(access_token_ttl: int) -> timedelta:
    return max(MIN_MARGIN, timedelta(seconds=access_token_ttl))


async def purge_expired(
    backends: Backends, now: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Delete what can never be used again as of `now`; the number of rows deleted per table."""
    cutoff = (now or utcnow()) - safety_margin(backends.settings.app.access_token_ttl)
    dead_families = (
        select(RefreshToken.login_id)
        .group_by(RefreshToken.login_id)
        .having(func.max(RefreshToken.expires_at) <= cutoff)
    )
    counts = {
        "refresh_tokens": await _in_batches(
            backends,
            RefreshToken,
            select(RefreshToken.id).where(
                or_(
                    RefreshToken.login_id.in_(dead_families),
                    and_(RefreshToken.used_at.is_not(None), RefreshToken.expires_at <= cutoff),
                )
            ),
            batch_size,
        ),
        "web_sessions": await _in_batches(
            backends,
            WebSession,
            select(WebSession.id).where(WebSession.expires_at <= cutoff),
            batch_size,
        ),
        "invitations": await _in_batches(
            backends,
            Invitation,
            select(Invitation.id).where(
                or_(Invitation.accepted_at <= cutoff, Invitation.expires_at <= cutoff)
            ),
            batch_size,
        ),
    }
    # After the tokens and sessions: a login is spent once nothing of it is left.
    counts["logins"] = await _in_batches(
        backends,
        Login,
        select(Login.id).where(
            Login.created_at <= cutoff,
            ~exists().where(RefreshToken.login_id == Login.id),
            ~exists().where(WebSession.login_id == Login.id),
        ),
        batch_size,
    )
    return counts


async def _in_batches(
    backends: Backends, table: Purgeable, ids: Select[uuid.UUID], batch_size: int
) -> int:
    """Delete the rows whose id `ids` selects, `batch_size` at a time; how many went."""
    total = 0
    statement = delete(table).where(table.id.in_(ids.limit(batch_size)))
    while True:
        async with database(backends).session() as session:
            deleted = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch_size:
            return total
