"""Housekeeping deletes sign-in rows that can never be used again, and nothing else: a used
refresh token stays while its login could still be revoked by presenting it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from shared.accounts import sessions, web_sessions
from shared.accounts.housekeeping import purge_expired
from shared.accounts.models import Invitation, Login, RefreshToken, WebSession
from shared.accounts.tokens import TokenPair, token_digest
from shared.audit.models import AuditEvent
from shared.db.base import utcnow
from shared.errors import NotAuthenticated
from tests.fixtures.accounts import Accounts

LONG_AGO = timedelta(days=2)


async def _sign_in(accounts: Accounts, email: str = "ada@example.com") -> TokenPair:
    return await accounts.login(await accounts.make_user(email))


async def _login_of(accounts: Accounts, refresh_token: str) -> uuid.UUID:
    digest = token_digest(accounts.backends.settings, refresh_token)
    async with accounts.db.session() as session:
        login_id = await session.scalar(
            select(RefreshToken.login_id).where(RefreshToken.token_hash == digest)
        )
    assert login_id is not None
    return login_id


async def _expire_login(accounts: Accounts, login_id: uuid.UUID, ago: timedelta) -> None:
    """Every refresh token and web session of the login expired `ago`, made then."""
    when = utcnow() - ago
    async with accounts.db.session() as session:
        await session.execute(
            update(RefreshToken).where(RefreshToken.login_id == login_id).values(expires_at=when)
        )
        await session.execute(
            update(WebSession).where(WebSession.login_id == login_id).values(expires_at=when)
        )
        await session.execute(
            update(Login).where(Login.id == login_id).values(created_at=when - timedelta(days=30))
        )


async def _count(accounts: Accounts, model: Any, *where: Any) -> int:
    async with accounts.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _add_invitation(accounts: Accounts, org_id: uuid.UUID, email: str, **times: Any) -> None:
    async with accounts.db.session() as session:
        session.add(
            Invitation(
                org_id=org_id,
                email=email,
                role="viewer",
                token_hash=uuid.uuid4().hex,
                **{"expires_at": utcnow() + timedelta(days=7), **times},
            )
        )


async def test_a_login_whose_newest_refresh_token_expired_is_purged_with_every_token(
    accounts: Accounts,
) -> None:
    old = await _sign_in(accounts)
    rotated = await sessions.refresh(accounts.backends, old.refresh_token)
    old_login = await _login_of(accounts, rotated.refresh_token)
    await _expire_login(accounts, old_login, LONG_AGO)
    live = await _sign_in(accounts, "bob@example.com")

    counts = await purge_expired(accounts.backends)

    assert counts["refresh_tokens"] == 2
    assert counts["logins"] == 1
    assert await _count(accounts, RefreshToken, RefreshToken.login_id == old_login) == 0
    assert await _count(accounts, Login, Login.id == old_login) == 0
    # A purged token is simply unknown: refused, like any token that is not valid.
    with pytest.raises(NotAuthenticated) as refused:
        await sessions.refresh(accounts.backends, rotated.refresh_token)
    assert refused.value.code == "invalid_refresh_token"
    # The other login is untouched and keeps working.
    assert (await sessions.refresh(accounts.backends, live.refresh_token)).refresh_token


async def test_a_used_refresh_token_of_a_live_login_stays_so_reusing_it_still_revokes_the_login(
    accounts: Accounts,
) -> None:
    first = await _sign_in(accounts)
    second = await sessions.refresh(accounts.backends, first.refresh_token)
    login_id = await _login_of(accounts, first.refresh_token)
    # Used and long expired, but its login's newest token is still valid: the expired one
    # goes (it can revoke nothing any more), the used one still inside its lifetime stays.
    async with accounts.db.session() as session:
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash
                == token_digest(accounts.backends.settings, first.refresh_token)
            )
            .values(expires_at=utcnow() - LONG_AGO)
        )
    third = await sessions.refresh(accounts.backends, second.refresh_token)

    counts = await purge_expired(accounts.backends)

    assert counts["refresh_tokens"] == 1
    assert counts["logins"] == 0
    assert await _count(accounts, RefreshToken, RefreshToken.login_id == login_id) == 2
    with pytest.raises(NotAuthenticated) as unknown:
        await sessions.refresh(accounts.backends, first.refresh_token)
    assert unknown.value.code != "refresh_token_reused"
    with pytest.raises(NotAuthenticated) as reused:
        await sessions.refresh(accounts.backends, second.refresh_token)
    assert reused.value.code == "refresh_token_reused"
    with pytest.raises(NotAuthenticated):
        await sessions.refresh(accounts.backends, third.refresh_token)  # the login is revoked


async def test_a_refresh_token_that_expired_within_the_safety_margin_stays(
    accounts: Accounts,
) -> None:
    pair = await _sign_in(accounts)
    login_id = await _login_of(accounts, pair.refresh_token)
    await _expire_login(accounts, login_id, timedelta(minutes=1))

    counts = await purge_expired(accounts.backends)

    assert counts == {"refresh_tokens": 0, "web_sessions": 0, "invitations": 0, "logins": 0}
    assert await _count(accounts, RefreshToken, RefreshToken.login_id == login_id) == 1


async def test_expired_web_sessions_are_purged_and_live_ones_keep_working(
    accounts: Accounts,
) -> None:
    user = await accounts.make_user("ada@example.com")
    settings = accounts.backends.settings
    async with accounts.db.session() as session:
        expired = await web_sessions.start_web_session(settings, session, user.id)
        live = await web_sessions.start_web_session(settings, session, user.id)
    await _expire_login(accounts, expired.login_id, LONG_AGO)

    counts = await purge_expired(accounts.backends)

    assert counts["web_sessions"] == 1
    assert counts["logins"] == 1
    assert await _count(accounts, WebSession) == 1
    assert await _count(accounts, Login, Login.id == expired.login_id) == 0
    principal, _ = await web_sessions.authenticate(accounts.backends, live.token)
    assert principal.user_id == user.id


async def test_expired_and_accepted_invitations_are_purged_and_pending_ones_stay(
    accounts: Accounts, org: Any
) -> None:
    await _add_invitation(accounts, org.id, "pending@example.com")
    await _add_invitation(accounts, org.id, "expired@example.com", expires_at=utcnow() - LONG_AGO)
    await _add_invitation(accounts, org.id, "accepted@example.com", accepted_at=utcnow() - LONG_AGO)

    counts = await purge_expired(accounts.backends)

    assert counts["invitations"] == 2
    async with accounts.db.session() as session:
        left = (await session.scalars(select(Invitation.email))).all()
    assert left == ["pending@example.com"]


async def test_a_backlog_larger_than_a_batch_is_purged_in_full(accounts: Accounts) -> None:
    for n in range(5):
        pair = await _sign_in(accounts, f"user{n}@example.com")
        await sessions.refresh(accounts.backends, pair.refresh_token)  # two tokens each
        await _expire_login(accounts, await _login_of(accounts, pair.refresh_token), LONG_AGO)

    counts = await purge_expired(accounts.backends, batch_size=3)

    assert counts["refresh_tokens"] == 10
    assert counts["logins"] == 5
    assert await _count(accounts, RefreshToken) == 0
    assert await _count(accounts, Login) == 0


async def test_purging_writes_no_audit_events(accounts: Accounts) -> None:
    pair = await _sign_in(accounts)
    await _expire_login(accounts, await _login_of(accounts, pair.refresh_token), LONG_AGO)
    before = await _count(accounts, AuditEvent)

    counts = await purge_expired(accounts.backends)

    assert counts["refresh_tokens"] == 1
    assert await _count(accounts, AuditEvent) == before
