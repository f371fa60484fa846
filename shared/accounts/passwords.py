"""argon2id password hashing (argon2-cffi's RFC 9106 low-memory profile).

Hashing runs on its own small thread pool, never the event loop's default one: other work
that blocks threads there (a hung ClickHouse call, chDB) cannot starve sign-in, and a burst of
sign-ins cannot hold every default thread either (each hash takes ~64 MiB and a core)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 1024
HASHING_THREADS = 4

_hasher = PasswordHasher()  # argon2id by default
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("jetdeck-dummy-password-for-timing")
_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="jetdeck-argon2")


def check_password_rules(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(
            f"The password must be at least {MIN_LENGTH} characters long.", code="weak_password"
        )
    if len(password) > MAX_LENGTH:
        raise Invalid(f"The password must be at most {MAX_LENGTH} characters.", code="invalid")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """`hash_password` on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password, password_hash, password
    )
