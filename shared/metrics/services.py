"""The metrics API's service: a stream's or consumer's history as chart-ready series."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import errors
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.metrics.queries import SeriesQuery, parse_series, read_series
from shared.metrics.targets import cluster_id_of

DEFAULT_SPAN = timedelta(hours=1)
_STEP = re.compile(r"^(\d+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_step(value: str | None) -> int | None:
    """`60`, `60s`, `5m`, `1h`, `1d` → seconds."""
    if value is None or value == "":
        return None
    match = _STEP.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise errors.Invalid(
            f"`step` must be a positive number of seconds or like 30s, 5m, 1h (got {value!r})",
            code="invalid_step",
        )
    return int(match.group(1)) * _UNIT[match.group(2)]


def time_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """Defaults: `to` is now, `from` an hour before `to`. Naive times are UTC."""
    end = _utc(end) if end else datetime.now(UTC)
    start = _utc(start) if start else end - DEFAULT_SPAN
    if start >= end:
        raise errors.Invalid("`from` must be before `to`", code="invalid_range")
    return start, end


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def object_metrics(
    backends: Backends,
    ctx: OrgContext,
    cluster: str,
    stream: str,
    consumer: str | None,
    *,
    series: str | None,
    start: datetime | None,
    end: datetime | None,
    step: str | None,
) -> dict[str, Any]:
    """`{step_seconds, series: {name: [[time, value], …]}}` for a stream or one consumer."""
    names = parse_series(series, consumer is not None)
    begin, finish = time_range(start, end)
    step_seconds = parse_step(step)
    if backends.clickhouse is None:
        raise errors.Unavailable(
            "Metrics need ClickHouse (JETDECK_CLICKHOUSE_URL).", code="clickhouse_unavailable"
        )
    cluster_id = await cluster_id_of(backends, ctx.org_id, cluster)
    query = SeriesQuery(
        str(ctx.org_id), cluster_id, stream, consumer, names, begin, finish, step_seconds
    )
    return await read_series(backends.clickhouse, query, backends.settings.workers.collect_interval)
