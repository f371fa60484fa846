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
    window = (
        f"{time_col} >= toDateTime({{start:UInt32}}, 'UTC')"
        f" AND {time_col} < toDateTime({{end:UInt32}}, 'UTC')"
    )
    # The account of the latest sample in the window (the same as the latest before its end
    # whenever the window has any sample, and without one there is nothing to show): reading
    # only the window, not the stream's whole history, on every chart request.
    account = (
        "{account:String}"
        if q.account is not None
        else f"(SELECT argMax(account, ({time_col}, account)) FROM {ch.database}.{table} "  # noqa: S608 (our names)
        f"WHERE {labels} AND {window})"
    )
    where = f"{labels} AND account = {account} AND {window}"
    # One step before `from` seeds the first rate.
    start = _floor(q.start, res.step_seconds) - timedelta(seconds=res.step_seconds)
    sql = (
        f"SELECT toStartOfInterval({time_col}, INTERVAL {res.step_seconds} SECOND) AS t, "  # noqa: S608 (names are our constants)
        f"{last}, {', '.join(values)} FROM {ch.database}.{table} WHERE {where} "
        "GROUP BY t ORDER BY t"
    )
    return await ch.query(
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


def _floor(moment: datetime, step: int) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // step * step, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _rate(prev: tuple[float, float] | None, now: tuple[float, float]) -> float | None:
    if prev is None or now[0] <= prev[0]:
        return None
    return max(0.0, now[1] - prev[1]) / (now[0] - prev[0])


def _derive(
    q: SeriesQuery, rows: list[tuple[Any, ...]], names: list[str]
) -> dict[str, list[list[Any]]]:
    out: dict[str, list[list[Any]]] = {n: [] for n in (*STREAM_SERIES, *CONSUMER_SERIES)}
    floor = _floor(q.start, 1)
    prev: dict[str, tuple[float, float]] = {}
    prev_lag: tuple[float, float] | None = None
    for row in rows:
        bucket, last = row[0], _seconds(row[1])
        values = dict(zip(names, row[2 : 2 + len(names)], strict=True))
        visible = (bucket if bucket.tzinfo else bucket.replace(tzinfo=UTC)) >= floor
        t = _iso(bucket)
        rates: dict[str, float | None] = {}
        for total, rate_name in (
            ("ingested_total", "ingest_rate"),
            ("delivered_total", "delivered_rate"),
            ("acked_total", "ack_rate"),
        ):
            if total in values:
                point = (last, float(values[total]))
                rates[rate_name] = _rate(prev.get(total), point)
                prev[total] = point
        lag_point = None
        if q.consumer is not None:
            lag = float(values["num_pending"] + values["num_ack_pending"])
            lag_point = (last, lag)
        if visible:
            for name in (
                "messages",
                "bytes",
                "consumers",
                "num_pending",
                "num_ack_pending",
                "num_redelivered",
                "num_waiting",
            ):
                if name in values:
                    out[name].append([t, int(values[name])])
            for rate_name, rate in rates.items():
                if rate is not None:
                    out[rate_name].append([t, rate])
            if lag_point is not None:
                out["total_lag"].append([t, int(lag_point[1])])
                time_lag = row[2 + len(names)]
                if time_lag is not None and not math.isnan(time_lag):
                    out["time_lag_seconds"].append([t, float(time_lag)])
                drain = _time_to_drain(prev_lag, lag_point)
                if drain is not None:
                    out["time_to_drain_seconds"].append([t, drain])
        if lag_point is not None:
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
