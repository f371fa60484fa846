"""The count of this process's database writes (shared/db/writes.py), which small in-process
caches of reads (the console's top bar) check before using an entry."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from shared.accounts.models import Organization
from shared.db import Database
from shared.db.writes import generation


async def test_a_write_of_any_kind_moves_the_count_and_a_read_does_not(database_url: str) -> None:
    db = Database(database_url)
    try:
        slug = f"o-{uuid.uuid4().hex[:8]}"
        before = generation()
        async with db.session() as session:  # an added object: a flush, then its commit
            session.add(Organization(slug=slug, name="Before"))
        added = generation()
        assert added > before

        async with db.session() as session:  # reading only: no flush, nothing to count
            org = await session.scalar(select(Organization).where(Organization.slug == slug))
            assert org is not None and org.name == "Before"
        assert generation() == added

        async with db.session() as session:  # an ORM update statement (no flush)
            await session.execute(
                update(Organization).where(Organization.slug == slug).values(name="After")
            )
        updated = generation()
        assert updated > added

        async with db.session() as session:  # a changed attribute: flushed at commit
            org = await session.scalar(select(Organization).where(Organization.slug == slug))
            assert org is not None
            org.name = "Again"
        assert generation() > updated
    finally:
        await db.dispose()
