"""Versioned ClickHouse DDL: `ddl/NNNN_name.sql` files applied once each, in order.

Applied versions are recorded in `<database>.schema_migrations`. Each file holds statements
separated by `;` on a line of its own; `{db}` stands for the configured database and
`{ttl_*}` for the configured retention.
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.config import MetricsSettings
from shared.metrics.clickhouse import ClickHouse

DDL_DIR = Path(__file__).parent / "ddl"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def ddl_versions() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(DDL_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def retention_params(settings: MetricsSettings | None = None) -> dict[str, object]:
    """`{ttl_raw_days}`, `{ttl_1m_days}`, `{ttl_1h_days}` from the metrics settings."""
    metrics = settings or MetricsSettings()
    return {
        "ttl_raw_days": metrics.ttl_raw_days,
        "ttl_1m_days": metrics.ttl_1m_days,
        "ttl_1h_days": metrics.ttl_1h_days,
    }


# Tables whose TTL follows a setting, so a changed setting applies to existing tables too.
RETENTION = {
    "stream_samples": ("ts", "ttl_raw_days"),
    "consumer_samples": ("ts", "ttl_raw_days"),
    "server_samples": ("ts", "ttl_raw_days"),
    "account_samples": ("ts", "ttl_raw_days"),
    "stream_samples_1m": ("bucket", "ttl_1m_days"),
    "consumer_samples_1m": ("bucket", "ttl_1m_days"),
    "stream_samples_1h": ("bucket", "ttl_1h_days"),
    "consumer_samples_1h": ("bucket", "ttl_1h_days"),
    "server_samples_1m": ("bucket", "ttl_1m_days"),
    "account_samples_1m": ("bucket", "ttl_1m_days"),
    "server_samples_1h": ("bucket", "ttl_1h_days"),
    "account_samples_1h": ("bucket", "ttl_1h_days"),
}


async def apply_retention(ch: ClickHouse, params: dict[str, object]) -> list[str]:
    """Bring each table's TTL in line with the settings; returns the tables changed.

    Only a table whose TTL differs is altered, and without rewriting existing parts at once
    (`materialize_ttl_after_modify = 0`): old rows go as parts merge.
    """
    rows = await ch.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}",
        {"db": ch.database},
    )
    current = dict(rows)
    changed = []
    for table, (column, setting) in RETENTION.items():
        days = int(str(params[setting]))
        if table not in current or f"TTL {column} + toIntervalDay({days})" in current[table]:
            continue
        await ch.command(
            f"ALTER TABLE {ch.database}.{table} MODIFY TTL {column} + INTERVAL {days} DAY "
            "SETTINGS materialize_ttl_after_modify = 0"
        )
        changed.append(table)
    return changed


async def migrate_clickhouse(ch: ClickHouse, **params: object) -> list[int]:
    """Apply every DDL version not yet applied; return the versions applied now.

    Retention defaults to the metrics settings (`JETDECK_METRICS_TTL_*`).
    """
    params = {**retention_params(), **params}
    db = ch.database
    await ch.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    await ch.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in await ch.query(f"SELECT version FROM {db}.schema_migrations")}  # noqa: S608 (db is a validated setting)
    applied = []
    for version, path in ddl_versions():
        if version in done:
            continue
        text = path.read_text().format(db=db, **params)
        for statement in re.split(r";\s*\n", text):
            if statement.strip():
                await ch.command(statement)
        await ch.insert("schema_migrations", [[version, path.name]], ["version", "name"])
        applied.append(version)
    await apply_retention(ch, params)
    return applied
