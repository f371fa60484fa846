from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.errors import Unavailable

CONNECT_TIMEOUT = 5.0


class Database:
    """An engine and its session factory for one PostgreSQL URL."""

    def __init__(self, url: str, *, pool_size: int = 10):
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

        async def connect() -> Any:
            # A database that refuses or never answers (asyncpg would wait 60 s) is a quick
            # `Unavailable` (503 naming it), not a raw socket error reaching the catch-all 500.
            try:
                return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as exc:
                raise Unavailable(
                    "The database is not answering; try again shortly.",
                    code="database_unavailable",
                ) from exc

        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            pool_pre_ping=True,
            pool_timeout=5,
            async_creator=connect,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends cleanly, rolled back otherwise."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
