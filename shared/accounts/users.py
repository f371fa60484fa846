"""Users: creation with a checked password, lookup by email (case-insensitive), deactivation."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts.authcache import access_withdrawn
from shared.accounts.models import Login, User
from shared.accounts.passwords import check_password_rules, hash_password_async
from shared.audit import record_change
from shared.backends import Backends
from shared.db import Database
from shared.db.base import utcnow
from shared.errors import Conflict, Invalid, NotFound

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not _EMAIL.match(email):
        raise Invalid("The email address is not valid.", code="invalid_email")
    return email


async def hash_password_off_loop(password: str) -> str:
    """argon2id takes tens of milliseconds of CPU: keep it off the event loop."""
    check_password_rules(password)
    return await hash_password_async(password)


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower())
    )
    return result.scalar_one_or_none()


async def add_user(session: AsyncSession, email: str, password_hash: str, name: str = "") -> User:
    if await find_user_by_email(session, email) is not None:
        raise Conflict("A user with this email already exists.", code="user_exists")
    user = User(email=email, name=name.strip(), password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent creation won the race
        raise Conflict("A user with this email already exists.", code="user_exists") from exc
    record_change(f"user:{user.id}", None, {"email": user.email, "name": user.name})
    return user


async def create_user(db: Database, email: str, password: str, name: str = "") -> User:
    email = normalize_email(email)
    password_hash = await hash_password_off_loop(password)
    async with db.session() as session:
        return await add_user(session, email, password_hash, name)


async def deactivate_user(backends: Backends, user_id: uuid.UUID) -> None:
    """The user is refused from the next request on: every login is revoked too."""
    assert backends.database is not None
    async with backends.database.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.", code="user_not_found")
        was_active = user.is_active
        user.is_active = False
        user.deactivated_at = utcnow()
        record_change(f"user:{user.id}", {"active": was_active}, {"active": False})
        await session.execute(
            update(Login)
            .where(Login.user_id == user_id, Login.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason="user_deactivated")
        )
    await access_withdrawn(backends.redis)
