"""Chart data for the console's uPlot charts: one compact columnar document per page.

    {"x": [epoch seconds…], "series": {name: [value | null, …]}, "units": {name: unit},
     "limits": {name: value}, "step": seconds, "from": epoch, "to": epoch,
     "refresh": seconds between collections when the range ends now, else null}

`x` is every bucket start of the range (a step chosen by `queries.choose_resolution`, so at
most ~1000 points); a series holds `null` in a bucket where no sample was collected, so
uPlot breaks the line there instead of drawing across a collection gap. Which buckets hold
a sample is what ClickHouse returns (raw samples, or rollup buckets that received one),
never inferred from neighbours; a rate is only given between two adjacent buckets that both
hold a sample. Numbers are shortened (4 significant digits for rates and seconds) and the
times appear once, so a 30-day chart stays well under 100 KB.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from shared import errors
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.metrics.clickhouse import ClickHouse
from shared.metrics.queries import Resolution, SeriesQuery, choose_resolution, read_points
from shared.metrics.targets import cluster_id_of

RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000}
DEFAULT_RANGE = "1h"

CONSUMER_UNITS = {
    "num_pending": "msgs",
    "num_ack_pending": "msgs",
    "num_redelivered": "msgs",
    "delivered_rate": "/s",
    "ack_rate": "/s",
    "time_lag_seconds": "s",
    "time_to_drain_seconds": "s",
}
STREAM_UNITS = {"messages": "msgs", "bytes": "bytes", "ingest_rate": "/s"}
CLUSTER_UNITS = {
    "storage_used": "bytes",
    "memory_used": "bytes",
    "servers_reachable": "servers",
}
# The charts each page draws from its document: (title, series).
CONSUMER_CHARTS = (
    ("Backlog", ("num_pending",)),
    ("Ack pending", ("num_ack_pending",)),
    ("Redelivered", ("num_redelivered",)),
    ("Delivered and acked", ("delivered_rate", "ack_rate")),
    ("Time lag", ("time_lag_seconds",)),
    ("Time to drain", ("time_to_drain_seconds",)),
)
STREAM_CHARTS = (
    ("Messages", ("messages",)),
    ("Bytes", ("bytes",)),
    ("Ingest rate", ("ingest_rate",)),
)
CLUSTER_CHARTS = (
    ("Storage", ("storage_used",)),
    ("Memory", ("memory_used",)),
    ("Servers reachable", ("servers_reachable",)),
)
_RATES = ("delivered_rate", "ack_rate", "ingest_rate", "time_to_drain_seconds")
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class ChartRange:
    """A chart's time range: a preset (`key` "15m"…"30d", ending now: `live`, to refresh at
    the collection interval) or `custom` from/to."""

    start: datetime
    end: datetime
    key: str
    live: bool

    def query(self) -> dict[str, str]:
        """The URL parameters that bring this range back."""
        if self.key != "custom":
            return {"range": self.key}
        return {"range": "custom", "from": _rfc3339(self.start), "to": _rfc3339(self.end)}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_moment(value: str | datetime, name: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        try:
            moment = (
                datetime.fromtimestamp(float(text), UTC)
                if re.fullmatch(r"\d+(\.\d+)?", text)
                else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except (ValueError, OverflowError):
            raise errors.Invalid(
                f"`{name}` {value!r} is not an RFC 3339 time or epoch seconds",
                code="invalid_range",
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_range(
    range_: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    *,
    now: datetime | None = None,
) -> ChartRange:
    """`range=15m|1h|6h|24h|7d|30d` (ending now), or `range=custom` (or none) with `from`
    and `to` (RFC 3339 or epoch seconds; `to` defaults to now). Default: the last hour."""
    now = now or datetime.now(UTC)
    key = (range_ or "").strip().lower()
    if key in RANGES:
        return ChartRange(now - timedelta(seconds=RANGES[key]), now, key, True)
    if key not in ("", "custom"):
        raise errors.Invalid(
            f"range {range_!r} is not one of {', '.join(RANGES)} or custom", code="invalid_range"
        )
    if start is None:
        if key == "custom":
            raise errors.Invalid("A custom range needs `from`", code="invalid_range")
        return ChartRange(now - timedelta(seconds=RANGES[DEFAULT_RANGE]), now, DEFAULT_RANGE, True)
    begin = _parse_moment(start, "from")
    finish = _parse_moment(end, "to") if end is not None else now
    if begin >= finish:
        raise errors.Invalid("`from` must be before `to`", code="invalid_range")
    return ChartRange(begin, finish, "custom", end is None)


# ---- the grid and its numbers ---------------------------------------------------------------


def grid(start: datetime, end: datetime, step: int) -> list[int]:
    """Bucket starts (epoch seconds) from the first one at or after `start` to before `end`:
    the buckets a query on `start`…`end` reports."""
    first = math.ceil(start.timestamp() / step) * step
    return list(range(first, math.ceil(end.timestamp()), step))


def short(value: float | int | None, digits: int = 4) -> float | int | None:
    """A number as few characters as a chart needs: integers stay exact, other values keep
    `digits` significant digits (and lose a trailing `.0`)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def _columns(
    xs: list[int],
    index: dict[int, int],
    points: dict[str, list[list[Any]]],
    names: Iterable[str],
) -> dict[str, list[Any]]:
    """`[[epoch seconds, value], …]` series (present buckets only) → columns over the grid
    `xs` (`index`: epoch → position), null where a bucket has no point."""
    out: dict[str, list[Any]] = {}
    for name in names:
        column: list[Any] = [None] * len(xs)
        for t, value in points.get(name, []):
            i = index.get(t)
            if i is not None:
                column[i] = value if type(value) is int else short(value)  # ints stay exact
        out[name] = column
    return out


def _drop_after_gaps(columns: dict[str, list[Any]], present: list[bool]) -> None:
    """A rate-like point right after an empty bucket is dropped: it would average over the
    collection gap."""
    for name in _RATES:
        column = columns.get(name)
        if column is None:
            continue
        for i in range(1, len(column)):
            if not present[i - 1]:
                column[i] = None
        if column and not present[0]:
            column[0] = None


def chart_json(document: dict[str, Any]) -> bytes:
    """The document as compact JSON (what the page embeds or serves)."""
    return _encoder.encode(document)


def _document(
    xs: list[int],
    series: dict[str, list[Any]],
    units: dict[str, str],
    limits: dict[str, int | float],
    step: int,
    rng: ChartRange,
    raw_interval: int,
) -> dict[str, Any]:
    """The document; for a range ending now, without the trailing buckets that started
    within the last two collection intervals and hold nothing yet (their cycle may not be
    written: not a gap), and with `refresh`, the seconds between collections."""
    if rng.live:
        recent = rng.end.timestamp() - 2 * raw_interval
        keep = len(xs)
        while keep and xs[keep - 1] > recent and all(c[keep - 1] is None for c in series.values()):
            keep -= 1
        if keep < len(xs):
            xs = xs[:keep]
            series = {name: column[:keep] for name, column in series.items()}
    return {
        "x": xs,
        "series": series,
        "units": {name: units[name] for name in series},
        "limits": {k: v for k, v in limits.items() if v is not None and v > 0},
        "step": step,
        "from": int(rng.start.timestamp()),
        "to": int(rng.end.timestamp()),
        "refresh": raw_interval if rng.live else None,
    }


# ---- streams and consumers (on queries.read_points) -----------------------------------------


async def object_chart(
    ch: ClickHouse,
    org_id: str,
    cluster_id: str,
    stream: str,
    consumer: str | None,
    rng: ChartRange,
    *,
    raw_interval: int,
    limits: dict[str, int | float] | None = None,
) -> dict[str, Any]:
    """The chart document of a stream (`consumer` None) or one consumer."""
    units = CONSUMER_UNITS if consumer is not None else STREAM_UNITS
    query = SeriesQuery(
        org_id=org_id,
        cluster_id=cluster_id,
        stream=stream,
        consumer=consumer,
        names=(*units, "total_lag") if consumer is not None else (*units, "consumers"),
        start=rng.start,
        end=rng.end,
    )
    got = await read_points(ch, query, raw_interval)  # times as epoch seconds: no parsing
    step = int(got["step_seconds"])
    xs = grid(rng.start, rng.end, step)
    # A bucket holds a sample when the always-written gauge has a point there.
    presence = got["series"]["total_lag" if consumer is not None else "consumers"]
    index = {x: i for i, x in enumerate(xs)}
    columns = _columns(xs, index, got["series"], units)
    present = [False] * len(xs)
    for t, _ in presence:
        i = index.get(t)
        if i is not None:
            present[i] = True
    _drop_after_gaps(columns, present)
    return _document(xs, columns, units, limits or {}, step, rng, raw_interval)


async def consumer_chart(
    backends: Backends,
    ctx: OrgContext,
    cluster: str,
    stream: str,
    consumer: str,
    rng: ChartRange,
    *,
    max_ack_pending: int | None = None,
) -> dict[str, Any]:
    """The consumer page's charts. `max_ack_pending` (from the consumer's config, which the
    page has loaded) is drawn as the limit of `num_ack_pending` when set (> 0)."""
    ch, cluster_id = await _resolve(backends, ctx, cluster)
    return await object_chart(
        ch,
        str(ctx.org_id),
        cluster_id,
        stream,
        consumer,
        rng,
        raw_interval=backends.settings.workers.collect_interval,
        limits={"num_ack_pending": max_ack_pending} if max_ack_pending else {},
    )


async def stream_chart(
    backends: Backends,
    ctx: OrgContext,
    cluster: str,
    stream: str,
    rng: ChartRange,
    *,
    max_bytes: int | None = None,
    max_msgs: int | None = None,
) -> dict[str, Any]:
    """The stream page's charts; `max_bytes` / `max_msgs` (from the stream's config) are
    the limits of `bytes` / `messages` when set (> 0)."""
    ch, cluster_id = await _resolve(backends, ctx, cluster)
    limits: dict[str, int | float] = {}
    if max_bytes and max_bytes > 0:
        limits["bytes"] = max_bytes
    if max_msgs and max_msgs > 0:
        limits["messages"] = max_msgs
    return await object_chart(
        ch,
        str(ctx.org_id),
        cluster_id,
        stream,
        None,
        rng,
        raw_interval=backends.settings.workers.collect_interval,
        limits=limits,
    )


async def _resolve(backends: Backends, ctx: OrgContext, cluster: str) -> tuple[ClickHouse, str]:
    if backends.clickhouse is None:
        raise errors.Unavailable(
            "Metrics need ClickHouse (JETDECK_CLICKHOUSE_URL).", code="clickhouse_unavailable"
        )
    return backends.clickhouse, await cluster_id_of(backends, ctx.org_id, cluster)


# ---- the cluster ----------------------------------------------------------------------------


def _time_column(res: Resolution) -> str:
    return "ts" if res.table_suffix == "" else "bucket"


async def cluster_chart_data(
    ch: ClickHouse, org_id: str, cluster_id: str, rng: ChartRange, *, raw_interval: int
) -> dict[str, Any]:
    """Storage and memory the cluster's accounts use (their limit: the accounts' limits when
    set, else the servers' JetStream capacity) and how many servers answered, per bucket."""
    res = choose_resolution((rng.end - rng.start).total_seconds(), None, raw_interval)
    step, t = res.step_seconds, _time_column(res)
    raw = res.table_suffix == ""
    db, suffix = ch.database, res.table_suffix
    params = {
        "org": org_id,
        "cluster": cluster_id,
        "start": int(rng.start.timestamp()),
        "end": math.ceil(rng.end.timestamp()),
    }
    where = (
        f"org_id = {{org:String}} AND cluster_id = {{cluster:String}} "
        f"AND {t} >= toDateTime({{start:UInt32}}, 'UTC') "
        f"AND {t} < toDateTime({{end:UInt32}}, 'UTC')"
    )
    value = "argMax({c}, ts)" if raw else "argMaxMerge({c})"
    accounts = await ch.query(
        f"SELECT b, sum(su), sum(sl), sum(mu), sum(ml) FROM ("  # noqa: S608 (our names)
        f"SELECT toStartOfInterval({t}, INTERVAL {step} SECOND) AS b, account, "
        f"{value.format(c='storage_used')} AS su, {value.format(c='storage_limit')} AS sl, "
        f"{value.format(c='memory_used')} AS mu, {value.format(c='memory_limit')} AS ml "
        f"FROM {db}.account_samples{suffix} WHERE {where} GROUP BY b, account"
        ") GROUP BY b ORDER BY b",
        params,
    )
    reach = "min(reachable)" if raw else "min(reachable_min)"
    servers = await ch.query(
        f"SELECT b, sumIf(r, server != ''), countIf(server != ''), sum(sl), sum(ml) FROM ("  # noqa: S608
        f"SELECT toStartOfInterval({t}, INTERVAL {step} SECOND) AS b, server, {reach} AS r, "
        f"{value.format(c='storage_limit')} AS sl, {value.format(c='memory_limit')} AS ml "
        f"FROM {db}.server_samples{suffix} WHERE {where} GROUP BY b, server"
        ") GROUP BY b ORDER BY b",
        params,
    )
    xs = grid(rng.start, rng.end, step)
    index = {x: i for i, x in enumerate(xs)}
    columns: dict[str, list[Any]] = {name: [None] * len(xs) for name in CLUSTER_UNITS}
    account_limits = {"storage_used": 0, "memory_used": 0}
    for b, su, sl, mu, ml in accounts:
        i = index.get(_epoch(b))
        if i is not None:
            columns["storage_used"][i], columns["memory_used"][i] = int(su), int(mu)
            account_limits = {"storage_used": int(sl), "memory_used": int(ml)}
    capacity = {"storage_used": 0, "memory_used": 0}
    known = 0
    for b, reachable, count, sl, ml in servers:
        i = index.get(_epoch(b))
        if i is not None:
            columns["servers_reachable"][i] = int(reachable)
            known = max(known, int(count))
            capacity = {"storage_used": int(sl), "memory_used": int(ml)}
    limits: dict[str, int | float] = {
        name: account_limits[name] or capacity[name] for name in account_limits
    }
    limits["servers_reachable"] = known
    return _document(xs, columns, CLUSTER_UNITS, limits, step, rng, raw_interval)


def _epoch(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


async def cluster_chart(
    backends: Backends, ctx: OrgContext, cluster: str, rng: ChartRange
) -> dict[str, Any]:
    """The cluster page's charts."""
    ch, cluster_id = await _resolve(backends, ctx, cluster)
    return await cluster_chart_data(
        ch,
        str(ctx.org_id),
        cluster_id,
        rng,
        raw_interval=backends.settings.workers.collect_interval,
    )


# ---- sparklines -----------------------------------------------------------------------------

SPARK_POINTS = 30


@dataclass(frozen=True)
class ConsumerKey:
    cluster_id: str
    stream: str
    consumer: str

    @property
    def label(self) -> str:
        return f"{self.stream}/{self.consumer}"


@dataclass(frozen=True)
class LaggingConsumer:
    key: ConsumerKey
    total_lag: int  # num_pending + num_ack_pending at its latest sample
    time_lag_seconds: float | None
    sampled_at: datetime


async def most_lagging_consumers(
    ch: ClickHouse,
    org_id: str,
    *,
    limit: int = 10,
    within: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[LaggingConsumer]:
    """The organization's consumers with the largest total lag at their latest sample
    (sampled within `within`, so removed consumers drop out), largest first."""
    end = now or datetime.now(UTC)
    rows = await ch.query(
        "SELECT cluster_id, stream, consumer, argMax(num_pending + num_ack_pending, ts) AS lag, "  # noqa: S608 (our names)
        "argMax(time_lag_seconds, ts), max(ts) "
        f"FROM {ch.database}.consumer_samples WHERE org_id = {{org:String}} "
        "AND ts >= toDateTime({start:UInt32}, 'UTC') AND ts <= toDateTime({end:UInt32}, 'UTC') "
        "GROUP BY cluster_id, stream, consumer ORDER BY lag DESC, stream, consumer "
        "LIMIT {limit:UInt32}",
        {
            "org": org_id,
            "start": int((end - within).timestamp()),
            "end": int(end.timestamp()),
            "limit": limit,
        },
    )
    return [
        LaggingConsumer(
            ConsumerKey(str(c), str(s), str(n)),
            int(lag),
            None if tl is None or math.isnan(tl) else float(tl),
            at if at.tzinfo else at.replace(tzinfo=UTC),
        )
        for c, s, n, lag, tl, at in rows
    ]


async def lag_sparklines(
    ch: ClickHouse,
    org_id: str,
    consumers: Sequence[ConsumerKey],
    *,
    span: timedelta = timedelta(hours=1),
    points: int = SPARK_POINTS,
    now: datetime | None = None,
    raw_interval: int = 10,
) -> dict[str, Any]:
    """Total lag (num_pending + num_ack_pending) of many consumers over the last `span`, in
    one query: `{"x": […], "series": {"cluster_id/stream/consumer": [value | null, …]},
    "step": s}` with about `points` points each (null: no sample in that bucket)."""
    end = now or datetime.now(UTC)
    start = end - span
    least = max(math.ceil(span.total_seconds() / max(points, 1)), raw_interval)
    res = choose_resolution(span.total_seconds(), least, raw_interval)
    step, t = res.step_seconds, _time_column(res)
    xs = grid(start, end, step)
    out: dict[str, list[Any]] = {
        f"{k.cluster_id}/{k.stream}/{k.consumer}": [None] * len(xs) for k in consumers
    }
    if not consumers:
        return {"x": xs, "series": out, "step": step}
    raw = res.table_suffix == ""
    pending = "argMax(num_pending, ts)" if raw else "argMaxMerge(num_pending)"
    acking = "argMax(num_ack_pending, ts)" if raw else "argMaxMerge(num_ack_pending)"
    keys: dict[str, Any] = {}
    for n, k in enumerate(consumers):
        keys.update({f"c{n}": k.cluster_id, f"s{n}": k.stream, f"n{n}": k.consumer})
    wanted = ", ".join(
        f"({{c{n}:String}}, {{s{n}:String}}, {{n{n}:String}})" for n in range(len(consumers))
    )
    rows = await ch.query(
        f"SELECT cluster_id, stream, consumer, "  # noqa: S608 (our names; values are parameters)
        f"toStartOfInterval({t}, INTERVAL {step} SECOND) AS b, {pending} + {acking} "
        f"FROM {ch.database}.consumer_samples{res.table_suffix} "
        f"WHERE org_id = {{org:String}} AND (cluster_id, stream, consumer) IN ({wanted}) "
        f"AND {t} >= toDateTime({{start:UInt32}}, 'UTC') "
        f"AND {t} < toDateTime({{end:UInt32}}, 'UTC') "
        "GROUP BY cluster_id, stream, consumer, b",
        {
            "org": org_id,
            **keys,
            "start": int(start.timestamp()),
            "end": math.ceil(end.timestamp()),
        },
    )
    index = {x: i for i, x in enumerate(xs)}
    for cluster_id, stream, consumer, b, lag in rows:
        i = index.get(_epoch(b))
        column = out.get(f"{cluster_id}/{stream}/{consumer}")
        if i is not None and column is not None:
            column[i] = int(lag)
    return {"x": xs, "series": out, "step": step}
