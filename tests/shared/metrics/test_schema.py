"""The metrics schema: versioned DDL applied once, retention following the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


async def test_server_and_account_rollups_take_in_the_raw_rows_already_stored(
    clickhouse_migrated,
):
    """An installation upgraded to DDL 0003 already holds raw server and account samples:
    applying 0003 rolls them up, so their history does not start at the upgrade."""
    ch = ClickHouse(clickhouse_migrated, "jetdeck_backfill_test")
    db = ch.database
    # Yesterday at 10:00, inside every retention period.
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    try:
        await migrate_clickhouse(ch)
        # Back to the schema before 0003 (as an older installation has it).
        for kind in ("server", "account"):
            for rollup in ("1m", "1h"):
                await ch.command(f"DROP VIEW {db}.{kind}_samples_{rollup}_mv")
                await ch.command(f"DROP TABLE {db}.{kind}_samples_{rollup}")
        await ch.command(f"ALTER TABLE {db}.schema_migrations DELETE WHERE version = 3")
        await ch.command(
            f"INSERT INTO {db}.server_samples (ts, org_id, cluster_id, server, reachable, rtt_ms) "
            f"VALUES ('{day} 10:00:00', 'o', 'c', 'n1', 1, 2.0), "
            f"('{day} 10:00:30', 'o', 'c', 'n1', 0, 9.0), "
            f"('{day} 10:01:10', 'o', 'c', 'n1', 1, 3.0)"
        )
        await ch.command(
            f"INSERT INTO {db}.account_samples (ts, org_id, cluster_id, account, streams) "
            f"VALUES ('{day} 10:00:00', 'o', 'c', 'APP', 4), "
            f"('{day} 10:00:50', 'o', 'c', 'APP', 5)"
        )

        applied = await migrate_clickhouse(ch)
        minutes = await ch.query(
            f"SELECT toString(bucket), argMaxMerge(reachable), min(reachable_min), "
            f"argMaxMerge(rtt_ms), max(rtt_ms_max) FROM {db}.server_samples_1m "
            "GROUP BY bucket ORDER BY bucket"
        )
        hour = await ch.query(
            f"SELECT argMaxMerge(reachable), min(reachable_min), max(rtt_ms_max) "
            f"FROM {db}.server_samples_1h"
        )
        accounts = await ch.query(
            f"SELECT toString(bucket), argMaxMerge(streams) FROM {db}.account_samples_1m "
            "GROUP BY bucket"
        )
    finally:
        await ch.command(f"DROP DATABASE IF EXISTS {db}")

    assert applied == [3]
    assert minutes == [
        (f"{day} 10:00:00", 0, 0, 9.0, 9.0),
        (f"{day} 10:01:00", 1, 1, 3.0, 3.0),
    ]
    assert hour == [(1, 0, 9.0)]  # last value up again, but the outage and worst RTT kept
    assert accounts == [(f"{day} 10:00:00", 5)]
