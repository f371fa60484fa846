"""Writing one cycle's samples: reset-corrected counters, and never a sample twice.

Idempotence: every row of a cycle carries the cycle's time. Before writing a table, the store
asks whether that table already holds this cluster's rows for that time; if so (a retry of a
cycle that got that far) the table is skipped. Should two writers ever race past that check,
the raw tables are ReplacingMergeTree on (labels, ts) and the rollups keep argMax states, so
a repeat still changes no figure.

Counters: `ingested_total`, `delivered_total` and `acked_total` only grow. Each is the previous
total plus the increase of the NATS counter since the previous cycle; when the NATS counter
went down, or the stream or consumer was recreated (`created` changed), the counter restarted
and its whole value is the increase. Rates are differences of these totals, so a purge, a
recreated stream or a recreated consumer never yields a negative rate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.metrics.clickhouse import ClickHouse
from shared.metrics.samples import Collection

STREAM_COLUMNS = [
    "ts",
    "org_id",
    "cluster_id",
    "account",
    "stream",
    "messages",
    "bytes",
    "first_seq",
    "last_seq",
    "last_ts",
    "consumer_count",
    "num_subjects",
    "num_deleted",
    "ingested_total",
]
CONSUMER_COLUMNS = [
    "ts",
    "org_id",
    "cluster_id",
    "account",
    "stream",
    "consumer",
    "num_pending",
    "num_ack_pending",
    "num_redelivered",
    "num_waiting",
    "delivered_consumer_seq",
    "delivered_stream_seq",
    "ack_floor_consumer_seq",
    "ack_floor_stream_seq",
    "last_active",
    "delivered_total",
    "acked_total",
    "time_lag_seconds",
]
SERVER_COLUMNS = [
    "ts",
    "org_id",
    "cluster_id",
    "server",
    "server_id",
    "reachable",
    "rtt_ms",
    "version",
    "memory_used",
    "memory_limit",
    "storage_used",
    "storage_limit",
    "streams",
    "consumers",
    "messages",
    "bytes",
    "source",
    "error",
]
ACCOUNT_COLUMNS = [
    "ts",
    "org_id",
    "cluster_id",
    "account",
    "memory_used",
    "memory_limit",
    "storage_used",
    "storage_limit",
    "streams",
    "consumers",
]
SAMPLE_TABLES = ("stream_samples", "consumer_samples", "server_samples", "account_samples")
_LABELS = "org_id = {org:String} AND cluster_id = {cluster:String}"


def advance(total: int | None, previous: int | None, current: int, restarted: bool) -> int:
    """The reset-corrected running total after a counter moved from `previous` to `current`."""
    if total is None or previous is None:
        return current  # first sight: the total starts at the counter itself
    if restarted or current < previous:
        return total + current
    return total + (current - previous)


async def written_tables(ch: ClickHouse, org_id: str, cluster_id: str, ts: datetime) -> set[str]:
    """The sample tables that already hold this cluster's rows for cycle `ts`."""
    db = ch.database
    sql = " UNION ALL ".join(
        f"SELECT '{table}' AS t, count() AS n FROM {db}.{table} "  # noqa: S608 (our table names)
        f"WHERE {_LABELS} AND ts = toDateTime({{ts:UInt32}}, 'UTC')"
        for table in SAMPLE_TABLES
    )
    rows = await ch.query(sql, _params(org_id, cluster_id, ts))
    return {str(table) for table, n in rows if n}


def _params(org_id: str, cluster_id: str, ts: datetime) -> dict[str, Any]:
    return {"org": org_id, "cluster": cluster_id, "ts": int(ts.timestamp())}


async def write_collection(ch: ClickHouse, c: Collection) -> dict[str, int]:
    """Write what the cycle read; returns rows written per table (0 where skipped)."""
    done = await written_tables(ch, c.org_id, c.cluster_id, c.ts)
    written = dict.fromkeys(SAMPLE_TABLES, 0)
    labels = (c.ts, c.org_id, c.cluster_id)
    if "stream_samples" not in done and c.streams:
        written["stream_samples"] = await _write_streams(ch, c)
    if "consumer_samples" not in done and c.consumers:
        written["consumer_samples"] = await _write_consumers(ch, c)
    if "server_samples" not in done and c.servers:
        rows = [
            [
                *labels,
                s.server,
                s.server_id,
                int(s.reachable),
                s.rtt_ms,
                s.version,
                s.memory_used,
                s.memory_limit,
                s.storage_used,
                s.storage_limit,
                s.streams,
                s.consumers,
                s.messages,
                s.bytes,
                s.source,
                s.error,
            ]
            for s in c.servers
        ]
        await ch.insert("server_samples", rows, SERVER_COLUMNS)
        written["server_samples"] = len(rows)
    if "account_samples" not in done and c.accounts:
        rows = [
            [
                *labels,
                a.account,
                a.memory_used,
                a.memory_limit,
                a.storage_used,
                a.storage_limit,
                a.streams,
                a.consumers,
            ]
            for a in c.accounts
        ]
        await ch.insert("account_samples", rows, ACCOUNT_COLUMNS)
        written["account_samples"] = len(rows)
    return written


async def _previous(
    ch: ClickHouse, table: str, keys: str, values: str, c: Collection
) -> dict[tuple[str, ...], tuple[Any, ...]]:
    nkeys = len(keys.split(","))
    rows = await ch.query(
        f"SELECT {keys}, {', '.join(f'argMax({v.strip()}, ts)' for v in values.split(','))} "  # noqa: S608 (our column names)
        f"FROM {ch.database}.{table} WHERE {_LABELS} AND ts < toDateTime({{ts:UInt32}}, 'UTC') "
        f"GROUP BY {keys}",
        _params(c.org_id, c.cluster_id, c.ts),
    )
    return {tuple(row[:nkeys]): tuple(row[nkeys:]) for row in rows}


def _same_creation(before: datetime | None, now: datetime | None) -> bool:
    if before is None or now is None:
        return True
    return abs((before.replace(tzinfo=None) - now.replace(tzinfo=None)).total_seconds()) < 0.002


async def _write_streams(ch: ClickHouse, c: Collection) -> int:
    previous = await _previous(
        ch, "stream_counters", "account, stream", "created, last_seq, ingested_total", c
    )
    samples, counters = [], []
    for s in c.streams:
        created, last_seq, total = previous.get((s.account, s.stream), (None, None, None))
        restarted = not _same_creation(created, s.created)
        ingested = advance(total, last_seq, s.last_seq, restarted)
        samples.append(
            [
                c.ts,
                c.org_id,
                c.cluster_id,
                s.account,
                s.stream,
                s.messages,
                s.bytes,
                s.first_seq,
                s.last_seq,
                s.last_ts,
                s.consumer_count,
                s.num_subjects,
                s.num_deleted,
                ingested,
            ]
        )
        counters.append(
            [c.ts, c.org_id, c.cluster_id, s.account, s.stream, s.created, s.last_seq, ingested]
        )
    await ch.insert("stream_samples", samples, STREAM_COLUMNS)
    await ch.insert(
        "stream_counters",
        counters,
        [
            "ts",
            "org_id",
            "cluster_id",
            "account",
            "stream",
            "created",
            "last_seq",
            "ingested_total",
        ],
    )
    return len(samples)


async def _write_consumers(ch: ClickHouse, c: Collection) -> int:
    previous = await _previous(
        ch,
        "consumer_counters",
        "account, stream, consumer",
        "created, delivered_consumer_seq, ack_floor_consumer_seq, delivered_total, acked_total",
        c,
    )
    samples, counters = [], []
    for s in c.consumers:
        created, delivered, acked, delivered_total, acked_total = previous.get(
            (s.account, s.stream, s.consumer), (None, None, None, None, None)
        )
        restarted = not _same_creation(created, s.created)
        new_delivered = advance(delivered_total, delivered, s.delivered_consumer_seq, restarted)
        new_acked = advance(acked_total, acked, s.ack_floor_consumer_seq, restarted)
        samples.append(
            [
                c.ts,
                c.org_id,
                c.cluster_id,
                s.account,
                s.stream,
                s.consumer,
                s.num_pending,
                s.num_ack_pending,
                s.num_redelivered,
                s.num_waiting,
                s.delivered_consumer_seq,
                s.delivered_stream_seq,
                s.ack_floor_consumer_seq,
                s.ack_floor_stream_seq,
                s.last_active,
                new_delivered,
                new_acked,
                s.time_lag_seconds,
            ]
        )
        counters.append(
            [
                c.ts,
                c.org_id,
                c.cluster_id,
                s.account,
                s.stream,
                s.consumer,
                s.created,
                s.delivered_consumer_seq,
                s.ack_floor_consumer_seq,
                new_delivered,
                new_acked,
            ]
        )
    await ch.insert("consumer_samples", samples, CONSUMER_COLUMNS)
    await ch.insert(
        "consumer_counters",
        counters,
        [
            "ts",
            "org_id",
            "cluster_id",
            "account",
            "stream",
            "consumer",
            "created",
            "delivered_consumer_seq",
            "ack_floor_consumer_seq",
            "delivered_total",
            "acked_total",
        ],
    )
    return len(samples)
