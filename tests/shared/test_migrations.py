"""Migrations build the schema from nothing, running them again changes nothing, and they
upgrade a database that already holds data."""

import uuid

from sqlalchemy import text

from shared.db import Database
from shared.db.migrate import upgrade_database
from shared.metrics.clickhouse import ClickHouse
from shared.metrics.migrate import ddl_versions, migrate_clickhouse
from tests.fixtures.services import in_thread


async def _tables(url: str) -> set[str]:
    db = Database(url)
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        names = {r[0] for r in rows}
    await db.dispose()
    return names


async def test_migrations_run_from_an_empty_database(empty_database_url: str) -> None:
    assert await _tables(empty_database_url) == set()
    in_thread(upgrade_database, empty_database_url)
    tables = await _tables(empty_database_url)
    assert {"alembic_version", "installation"} <= tables


async def test_migrating_twice_is_a_no_op(empty_database_url: str) -> None:
    in_thread(upgrade_database, empty_database_url)
    before = await _tables(empty_database_url)
    in_thread(upgrade_database, empty_database_url)
    assert await _tables(empty_database_url) == before


async def test_clusters_registered_before_the_enabled_switch_stay_enabled(
    empty_database_url: str,
) -> None:
    in_thread(upgrade_database, empty_database_url, "0004")
    org_id, cluster_id = uuid.uuid4(), uuid.uuid4()
    db = Database(empty_database_url)
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO organizations (id, slug, name, created_at) "
                "VALUES (:id, 'acme', 'Acme', now())"
            ),
            {"id": org_id},
        )
        await session.execute(
            text(
                "INSERT INTO clusters (id, org_id, name, servers, auth, secrets, labels, "
                "created_at, updated_at) VALUES (:id, :org, 'prod', "
                "'[\"nats://127.0.0.1:4222\"]', '{\"type\": \"none\"}', '', '{}', now(), now())"
            ),
            {"id": cluster_id, "org": org_id},
        )
    await db.dispose()

    in_thread(upgrade_database, empty_database_url)

    db = Database(empty_database_url)
    async with db.session() as session:
        rows = (await session.execute(text("SELECT id, enabled FROM clusters"))).all()
        column = (
            await session.execute(
                text(
                    "SELECT is_nullable, column_default FROM information_schema.columns "
                    "WHERE table_name = 'clusters' AND column_name = 'enabled'"
                )
            )
        ).one()
    await db.dispose()
    assert [tuple(r) for r in rows] == [(cluster_id, True)]
    assert column == ("NO", "true")


async def test_clickhouse_ddl_is_applied_once_per_version(clickhouse_migrated: str) -> None:
    ch = ClickHouse(clickhouse_migrated, "jetdeck_migration_check")
    first = await migrate_clickhouse(ch)
    second = await migrate_clickhouse(ch)
    await ch.command("DROP DATABASE jetdeck_migration_check")
    assert first == [v for v, _ in ddl_versions()]
    assert second == []


async def test_the_migrations_build_exactly_what_the_models_declare(
    empty_database_url: str,
) -> None:
    """No drift: after every migration, Alembic's autogenerate finds nothing to add, drop or
    change between the database and the SQLAlchemy models (tables, columns, types,
    nullability, indexes, foreign keys)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.db.models import metadata

    in_thread(upgrade_database, empty_database_url)
    db = Database(empty_database_url)

    def differences(connection) -> list:  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with db.engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await db.dispose()
    assert found == []
