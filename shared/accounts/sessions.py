"""Sign-in, refresh-token rotation with reuse detection, and sign-out.

A login is a family of refresh tokens. Each refresh uses up the presented token and issues the
next one; presenting a used token means it was copied, so the whole login is revoked, and
with it every access token naming it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.authcache import access_withdrawn
from shared.accounts.models import Login, RefreshToken, User
from shared.accounts.passwords import (
    check_password_rules,
    hash_password_async,
    verify_password_async,
)
from shared.accounts.ratelimit import give_back_attempt, take_attempt
from shared.accounts.tokens import TokenPair, issue_access_token, new_refresh_token, token_digest
from shared.accounts.users import find_user_by_email
from shared.audit import record_change
from shared.backends import Backends
from shared.config import Settings
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import NotAuthenticated, Unavailable

BAD_CREDENTIALS = "The email or password is not correct."
BAD_REFRESH = "The refresh token is not valid."

T = TypeVar("T")


def database(backends: Backends) -> Database:
    if backends.database is None:
        raise Unavailable("The database is not configured.", code="database_unavailable")
    return backends.database


async def login(
    backends: Backends, email: str, password: str, *, ip: str | None, user_agent: str | None
) -> TokenPair:
    """Sign in for the API: a new login and its first token pair."""

    async def start(session: AsyncSession, user_id: uuid.UUID) -> TokenPair:
        return await start_login(backends.settings, session, user_id, ip, user_agent)

    return await sign_in(backends, email, password, ip=ip, start=start)


async def sign_in(
    backends: Backends,
    email: str,
    password: str,
    *,
    ip: str | None,
    start: Callable[[AsyncSession, uuid.UUID], Awaitable[T]],
) -> T:
    """Check the password under the attempt limits, then `start` what the caller signs in to
    (a token pair for the API, a cookie session for the browser) in the same transaction.
    Every front door signs in through here: same answers, same limits."""
    # No database connection is held while the password is hashed: a burst of sign-ins must
    # not use up the pool that every other request needs.
    async with database(backends).session() as session:
        user = await find_user_by_email(session, email)
    # A deactivated account gets the answer of a wrong password: a login reveals nothing.
    user = await check_password(backends, user, email, password, ip=ip, reveal_inactive=False)
    async with database(backends).session() as session:
        return await start(session, user.id)


async def check_password(
    backends: Backends,
    user: User | None,
    email: str,
    password: str,
    *,
    ip: str | None,
    reveal_inactive: bool,
    wrong: str = BAD_CREDENTIALS,
) -> User:
    """The one password check (sign-in, accepting an invitation as an existing user): refused
    without Redis or over the attempt limit (the attempt is counted before hashing, so
    concurrent attempts cannot outrun the limit); verified on the hashing threads, an unknown
    user against a dummy hash (same answer, about the same time); a success gives its attempt
    back. A
    deactivated user is told so only when `reveal_inactive` (after the right password);
    otherwise it gets the answer of a wrong password."""
    if backends.redis is None:
        raise Unavailable("Sign-in needs Redis for its attempt limits.", code="redis_unavailable")
    limit = backends.settings.app.login_attempts_per_minute
    await take_attempt(backends.redis, email, ip, limit)
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is not None and ok and not user.is_active and reveal_inactive:
        raise NotAuthenticated("This account is deactivated.", code="user_inactive")
    if user is None or not ok or not user.is_active:
        raise NotAuthenticated(wrong, code="invalid_credentials")
    await give_back_attempt(backends.redis, email, ip)
    return user


async def start_login(
    settings: Settings,
    session: AsyncSession,
    user_id: uuid.UUID,
    ip: str | None = None,
    user_agent: str | None = None,
) -> TokenPair:
    """A new login for a user whose identity is established (by password, or a test factory)."""
    the_login = await open_login(session, user_id, ip, user_agent)
    return _next_pair(settings, session, the_login.id, user_id)


async def open_login(
    session: AsyncSession, user_id: uuid.UUID, ip: str | None, user_agent: str | None
) -> Login:
    the_login = Login(user_id=user_id, ip=ip, user_agent=(user_agent or "")[:400] or None)
    session.add(the_login)
    await session.flush()
    return the_login


def _next_pair(
    settings: Settings, session: AsyncSession, login_id: uuid.UUID, user_id: uuid.UUID
) -> TokenPair:
    refresh_token = new_refresh_token()
    session.add(
        RefreshToken(
            login_id=login_id,
            token_hash=token_digest(settings, refresh_token),
            expires_at=utcnow() + timedelta(seconds=settings.app.refresh_token_ttl),
        )
    )
    access = issue_access_token(settings, user_id, login_id)
    return TokenPair(access, refresh_token, settings.app.access_token_ttl)


async def refresh(backends: Backends, refresh_token: str) -> TokenPair:
    settings = backends.settings
    pair: TokenPair | None = None
    async with database(backends).session() as session:
        row = (
            await session.execute(
                select(
                    RefreshToken.id,
                    RefreshToken.expires_at,
                    Login.id,
                    Login.revoked_at,
                    User.id,
                    User.is_active,
                )
                .join(Login, Login.id == RefreshToken.login_id)
                .join(User, User.id == Login.user_id)
                .where(RefreshToken.token_hash == token_digest(settings, refresh_token))
            )
        ).one_or_none()
        if row is None:
            raise NotAuthenticated(BAD_REFRESH, code="invalid_refresh_token")
        token_id, expires_at, login_id, revoked_at, user_id, active = row
        if revoked_at is not None or expires_at <= utcnow() or not active:
            raise NotAuthenticated(BAD_REFRESH, code="invalid_refresh_token")
        # Claim the token atomically: of two concurrent refreshes one wins, one is a reuse.
        claimed = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=utcnow())
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            pair = _next_pair(settings, session, login_id, user_id)
        else:
            await _revoke(session, login_id, "refresh_token_reused")
    if pair is None:  # raised only after the revocation is committed
        await access_withdrawn(backends.redis)
        raise NotAuthenticated(
            "This refresh token was already used; the login has been revoked.",
            code="refresh_token_reused",
        )
    return pair


async def logout(backends: Backends, refresh_token: str) -> None:
    """Revoke the login the token belongs to. An unknown token is ignored: nothing to end."""
    async with database(backends).session() as session:
        login_id = await session.scalar(
            select(RefreshToken.login_id).where(
                RefreshToken.token_hash == token_digest(backends.settings, refresh_token)
            )
        )
        if login_id is not None:
            await _revoke(session, login_id, "logout")
    if login_id is not None:
        await access_withdrawn(backends.redis)


async def _revoke(session: AsyncSession, login_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(Login)
        .where(Login.id == login_id, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def end_login(backends: Backends, login_id: uuid.UUID, reason: str = "logout") -> None:
    """Revoke a login (every token and web session of it), effective on the next request."""
    async with database(backends).session() as session:
        await _revoke(session, login_id, reason)
    await access_withdrawn(backends.redis)


async def change_password(
    backends: Backends,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    *,
    keep_login: uuid.UUID | None,
    ip: str | None = None,
) -> int:
    """`POST /api/v1/auth/password` and the account page: the current password is checked like
    a sign-in (same attempt limits, same 401), the new one against the password rules; every
    other login of the user ends (`keep_login`, the caller's own, stays). Returns how many
    logins ended."""
    check_password_rules(new_password)
    async with database(backends).session() as session:
        user = await session.get(User, user_id)
    assert user is not None
    await check_password(
        backends,
        user,
        user.email,
        current_password,
        ip=ip,
        reveal_inactive=False,
        wrong="The current password is not correct.",
    )
    new_hash = await hash_password_async(new_password)
    async with database(backends).session() as session:
        await session.execute(update(User).where(User.id == user_id).values(password_hash=new_hash))
        ended = await session.execute(
            update(Login)
            .where(
                Login.user_id == user_id,
                Login.revoked_at.is_(None),
                *([Login.id != keep_login] if keep_login is not None else []),
            )
            .values(revoked_at=utcnow(), revoked_reason="password_changed")
        )
        count = int(ended.rowcount or 0)  # type: ignore[attr-defined]
        # Inside the transaction: the change and its audit row commit together. The values
        # are placeholders: the trail redacts them and shows that the password changed.
        record_change(
            f"user:{user_id}",
            {"password": "old", "other_logins_ended": 0},
            {"password": "new", "other_logins_ended": count},
        )
    await access_withdrawn(backends.redis)
    return count
