"""The metrics schema: versioned DDL applied once, retention following the settings."""

from __future__ import annotations

from shared.metrics.clickhouse import ClickHouse
from shared.metrics.migrate import migrate_clickhouse


async def ttl_of(ch: ClickHouse, table: str) -> str:
    rows = await ch.query(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name = {t:String}",
        {"db": ch.database, "t": table},
    )
    query = rows[0][0]
    return query[query.index(" TTL ") + 5 :].split(" SETTINGS")[0]


async def test_retention_follows_the_settings_also_for_existing_tables(clickhouse_migrated):
    ch = ClickHouse(clickhouse_migrated, "jetdeck_retention_test")
    try:
        first = await migrate_clickhouse(ch)
        defaults = [
            await ttl_of(ch, t)
            for t in ("stream_samples", "consumer_samples_1m", "consumer_samples_1h")
        ]
        again = await migrate_clickhouse(ch, ttl_raw_days=3, ttl_1m_days=30, ttl_1h_days=365)
        changed = [
            await ttl_of(ch, t)
            for t in ("stream_samples", "consumer_samples_1m", "consumer_samples_1h")
        ]
    finally:
        await ch.command("DROP DATABASE IF EXISTS jetdeck_retention_test")

    assert 2 in first and again == []
    assert defaults == [
        "ts + toIntervalDay(7)",
        "bucket + toIntervalDay(90)",
        "bucket + toIntervalDay(730)",
    ]
    assert changed == [
        "ts + toIntervalDay(3)",
        "bucket + toIntervalDay(30)",
        "bucket + toIntervalDay(365)",
    ]
