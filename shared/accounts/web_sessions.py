"""Web sessions: a browser's sign-in, held in an httpOnly cookie.

Signing in goes through the same password check, answers and attempt limits as the API
(`sessions.sign_in`) and opens a login like the API's, so signing out, deactivation and any
revocation of the login end the web session too. The cookie holds an opaque random token;
only its digest is stored. The CSRF token of the session is derived from its login id (see
`services/api/security.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts import sessions
from shared.accounts.keys import random_token
from shared.accounts.models import Login, User, WebSession
from shared.accounts.principals import Principal
from shared.accounts.tokens import token_digest
from shared.backends import Backends
from shared.config import Settings
from shared.db.base import utcnow
from shared.errors import NotAuthenticated

WEB_SESSION_PREFIX = "jds_"
SESSION_ENDED = "Your session has ended; sign in again."


@dataclass(frozen=True)
class StartedWebSession:
    token: str  # for the cookie only: never logged, never stored
    login_id: uuid.UUID
    expires_at: datetime

    def __repr__(self) -> str:  # keep the token out of any log line or traceback
        return f"StartedWebSession(login_id={self.login_id}, expires_at={self.expires_at})"


async def sign_in(
    backends: Backends, email: str, password: str, *, ip: str | None, user_agent: str | None
) -> StartedWebSession:
    """Same failures as `POST /api/v1/auth/login`: one answer for an unknown email and a wrong
    password, 429 once the account or the IP has failed too often."""

    async def start(session: AsyncSession, user_id: uuid.UUID) -> StartedWebSession:
        return await start_web_session(backends.settings, session, user_id, ip, user_agent)

    return await sessions.sign_in(backends, email, password, ip=ip, start=start)


async def start_web_session(
    settings: Settings,
    session: AsyncSession,
    user_id: uuid.UUID,
    ip: str | None = None,
    user_agent: str | None = None,
) -> StartedWebSession:
    """A web session for a user whose identity is established (by password, or a test)."""
    the_login = await sessions.open_login(session, user_id, ip, user_agent)
    token = random_token(WEB_SESSION_PREFIX)
    expires_at = utcnow() + timedelta(seconds=settings.app.refresh_token_ttl)
    session.add(
        WebSession(
            login_id=the_login.id,
            token_hash=token_digest(settings, token),
            expires_at=expires_at,
        )
    )
    return StartedWebSession(token, the_login.id, expires_at)


async def authenticate(backends: Backends, token: str) -> tuple[Principal, float]:
    """The user behind a session cookie, and until when (wall-clock seconds) it is valid."""
    async with sessions.database(backends).sessions() as session:
        row = (
            await session.execute(
                select(User.id, User.email, Login.id, WebSession.expires_at)
                .join(Login, Login.user_id == User.id)
                .join(WebSession, WebSession.login_id == Login.id)
                .where(
                    WebSession.token_hash == token_digest(backends.settings, token),
                    WebSession.expires_at > utcnow(),
                    Login.revoked_at.is_(None),
                    User.is_active.is_(True),
                )
            )
        ).one_or_none()
    if row is None:
        raise NotAuthenticated(SESSION_ENDED, code="session_ended")
    user_id, email, login_id, expires_at = row
    principal = Principal(kind="user", id=user_id, label=email, user_id=user_id, login_id=login_id)
    return principal, expires_at.timestamp()


async def sign_out(backends: Backends, login_id: uuid.UUID) -> None:
    """End the session's login server-side; its cookie is refused from the next request on."""
    await sessions.end_login(backends, login_id, "logout")
