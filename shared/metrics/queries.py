"""Reading series back: pick the resolution, aggregate, derive rates.

A chart never gets more than `MAX_POINTS` points: the step is at least span / MAX_POINTS,
and the table is the coarsest one not coarser than the step (raw samples below a minute,
the 1-minute rollup below an hour, the 1-hour rollup above). Every point is the last sample
in its step (argMax), so a point means the same at every resolution. Rates are differences of
reset-corrected running totals between consecutive points, divided by the time between the
samples they come from: never negative, and equal across resolutions over the same span.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import errors
from shared.metrics.clickhouse import ClickHouse

MAX_POINTS = 1000

STREAM_SERIES = ("messages", "bytes", "ingest_rate", "consumers")
CONSUMER_SERIES = (
    "num_pending",
    "num_ack_pending",
    "num_redelivered",
    "num_waiting",
    "delivered_rate",
    "ack_rate",
    "total_lag",
    "time_lag_seconds",
    "time_to_drain_seconds",
)

# name → (column in the raw table, state column in a rollup, merge function, value type)
_STREAM_COLUMNS = {
    "messages": "messages",
    "bytes": "bytes",
    "consumers": "consumer_count",
    "ingested_total": "ingested_total",
}
_CONSUMER_COLUMNS = {
    "num_pending": "num_pending",
    "num_ack_pending": "num_ack_pending",
    "num_redelivered": "num_redelivered",
    "num_waiting": "num_waiting",
    "delivered_total": "delivered_total",
    "acked_total": "acked_total",
}


@dataclass(frozen=True)
class Resolution:
    table_suffix: str  # "", "_1m" or "_1h"
    step_seconds: int


# Steps from a minute up, so a chart's points fall on round times.
_ROUND_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def choose_resolution(
    span_seconds: float, requested_step: int | None, raw_interval: int
) -> Resolution:
    """The step (seconds) and table for a span, keeping a series under MAX_POINTS points."""
    least = max(math.ceil(span_seconds / MAX_POINTS), requested_step or 0, raw_interval, 1)
    if least < 60:
        return Resolution("", math.ceil(least / raw_interval) * raw_interval)
    step = next((s for s in _ROUND_STEPS if s >= least), math.ceil(least / 86400) * 86400)
    return Resolution("_1m" if step < 3600 else "_1h", step)


@dataclass
class SeriesQuery:
    org_id: str
    cluster_id: str
    stream: str
    consumer: str | None
    names: tuple[str, ...]
    start: datetime
    end: datetime
    step: int | None = None
    # The NATS account the stream lives in. None: the account of the stream's latest sample
    # (the registered credentials' account: the collector stores only that one when it knows
    # it). Never several accounts' same-named streams merged into one series.
    account: str | None = None


def parse_series(value: str | None, consumer: bool) -> tuple[str, ...]:
    known = CONSUMER_SERIES if consumer else STREAM_SERIES
    if not value:
        return known
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise errors.Invalid(
            f"Unknown series {', '.join(unknown)}; known: {', '.join(known)}",
            code="unknown_series",
            extra={"known": list(known)},
        )
    return names


async def read_series(ch: ClickHouse, q: SeriesQuery, raw_interval: int) -> dict[str, Any]:
    """`{step_seconds, series: {name: [[time, value], ...]}}`; a series without data is []."""
    got = await read_points(ch, q, raw_interval)
    iso: dict[int, str] = {}  # each bucket's time formatted once, whatever the series

    def at(t: int) -> str:
        text = iso.get(t)
        if text is None:
            text = iso[t] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return text

    return {
        "step_seconds": got["step_seconds"],
        "series": {n: [[at(t), v] for t, v in points] for n, points in got["series"].items()},
    }


async def read_points(ch: ClickHouse, q: SeriesQuery, raw_interval: int) -> dict[str, Any]:
    """`read_series` with each point's time in epoch seconds (an int) rather than RFC 3339:
    what the console's charts lay on their grid, without formatting and parsing times."""
    if q.end <= q.start:
        raise errors.Invalid("`from` must be before `to`", code="invalid_range")
    res = choose_resolution((q.end - q.start).total_seconds(), q.step, raw_interval)
    columns = _CONSUMER_COLUMNS if q.consumer is not None else _STREAM_COLUMNS
    rows = await _fetch(ch, q, res, columns)
    series = _derive(q, rows, list(columns))
    return {"step_seconds": res.step_seconds, "series": {n: series[n] for n in q.names}}


async def _fetch(
    ch: ClickHouse, q: SeriesQuery, res: Resolution, columns: dict[str, str]
) -> list[tuple[Any, ...]]:
    """Rows `(bucket start, last sample, *values)`, times in epoch seconds, oldest first.

    Without `q.account` the account is the one of the latest sample, chosen from the same
    rows (grouped by account too) rather than by a subquery over the object's whole history:
    an account with a sample in the range is always later than one without."""
    consumer = q.consumer is not None
    table = ("consumer_samples" if consumer else "stream_samples") + res.table_suffix
    raw = res.table_suffix == ""
    time_col = "ts" if raw else "bucket"
    if raw:
        values = [f"argMax({c}, ts)" for c in columns.values()]
        lag = "argMaxIf(time_lag_seconds, ts, isNotNull(time_lag_seconds))"
        last = "max(ts)"
    else:
        values = [f"argMaxMerge({c})" for c in columns.values()]
        lag = "argMaxIfMerge(time_lag_seconds)"
        last = "max(last_sample)"
    if consumer:
        values.append(lag)
    labels = (
        "org_id = {org:String} AND cluster_id = {cluster:String} AND stream = {stream:String}"
        + (" AND consumer = {consumer:String}" if consumer else "")
    )
    chosen = q.account is not None
    where = (
        labels
        + (" AND account = {account:String}" if chosen else "")
        + f" AND {time_col} >= toDateTime({{start:UInt32}}, 'UTC')"
        + f" AND {time_col} < toDateTime({{end:UInt32}}, 'UTC')"
    )
    # One step before `from` seeds the first rate.
    start = _floor(q.start, res.step_seconds) - timedelta(seconds=res.step_seconds)
    bucket = f"toUnixTimestamp(toStartOfInterval({time_col}, INTERVAL {res.step_seconds} SECOND))"
    sql = (
        f"SELECT {bucket} AS t, toUnixTimestamp({last}), "  # noqa: S608 (names are our constants)
        + ("" if chosen else f"account, toUnixTimestamp(max({time_col})), ")
        + f"{', '.join(values)} FROM {ch.database}.{table} WHERE {where} "
        + ("GROUP BY t ORDER BY t" if chosen else "GROUP BY t, account ORDER BY t, account")
    )
    rows = await ch.query(
        sql,
        {
            "org": q.org_id,
            "cluster": q.cluster_id,
            "stream": q.stream,
            "consumer": q.consumer or "",
            "account": q.account or "",
            "start": int(start.timestamp()),
            "end": math.ceil(q.end.timestamp()),
        },
    )
    if chosen:
        return rows
    # (t, last, account, newest, *values): the latest sample's account, as argMax(account,
    # (time, account)) over the object would choose it; its rows without those two columns.
    latest = max(((row[3], row[2]) for row in rows), default=None)
    return [(row[0], row[1], *row[4:]) for row in rows if latest and row[2] == latest[1]]


def _floor(moment: datetime, step: int) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // step * step, UTC)


def _rate(prev: tuple[float, float] | None, now: tuple[float, float]) -> float | None:
    if prev is None or now[0] <= prev[0]:
        return None
    return max(0.0, now[1] - prev[1]) / (now[0] - prev[0])


def _derive(
    q: SeriesQuery, rows: list[tuple[Any, ...]], names: list[str]
) -> dict[str, list[list[Any]]]:
    """`[[epoch seconds, value], ...]` per series from `_fetch`'s rows (`names`: their value
    columns, in order; a consumer's time lag follows them)."""
    out: dict[str, list[list[Any]]] = {n: [] for n in (*STREAM_SERIES, *CONSUMER_SERIES)}
    floor = int(q.start.timestamp())
    at = {name: 2 + i for i, name in enumerate(names)}  # a value's position in a row
    gauges = [
        (out[name], at[name])
        for name in (
            "messages",
            "bytes",
            "consumers",
            "num_pending",
            "num_ack_pending",
            "num_redelivered",
            "num_waiting",
        )
        if name in at
    ]
    # Running totals → rates: (its position, the rate's points); prev: (time, total) each.
    totals = [
        (at[total], out[rate_name])
        for total, rate_name in (
            ("ingested_total", "ingest_rate"),
            ("delivered_total", "delivered_rate"),
            ("acked_total", "ack_rate"),
        )
        if total in at
    ]
    prev: list[tuple[float, float] | None] = [None] * len(totals)
    consumer = q.consumer is not None
    if consumer:
        pending, acking, lag_at = at["num_pending"], at["num_ack_pending"], 2 + len(names)
        total_lag, time_lags, drains = (
            out["total_lag"],
            out["time_lag_seconds"],
            out["time_to_drain_seconds"],
        )
    prev_lag: tuple[float, float] | None = None
    for row in rows:
        t, last = int(row[0]), float(row[1])
        visible = t >= floor
        for k, (position, points) in enumerate(totals):
            point = (last, float(row[position]))
            rate = _rate(prev[k], point)
            prev[k] = point
            if visible and rate is not None:
                points.append([t, rate])
        if visible:
            for points, position in gauges:
                points.append([t, int(row[position])])
        if consumer:
            lag_point = (last, float(row[pending] + row[acking]))
            if visible:
                total_lag.append([t, int(lag_point[1])])
                time_lag = row[lag_at]
                if time_lag is not None and not math.isnan(time_lag):
                    time_lags.append([t, float(time_lag)])
                drain = _time_to_drain(prev_lag, lag_point)
                if drain is not None:
                    drains.append([t, drain])
            prev_lag = lag_point
    return out


def _time_to_drain(prev: tuple[float, float] | None, now: tuple[float, float]) -> float | None:
    """Backlog / net drain rate; no estimate while the backlog is not shrinking."""
    if now[1] == 0:
        return 0.0
    if prev is None or now[0] <= prev[0]:
        return None
    drain_per_second = (prev[1] - now[1]) / (now[0] - prev[0])
    return now[1] / drain_per_second if drain_per_second > 0 else None
