"""The console's charts: their data routes, the panel a page puts them in, dashboard sparklines.

Data (JSON from `shared.metrics.charts`, one document a page; viewer, session cookie):

    GET /orgs/{org}/clusters/{cluster}/charts.json?range=1h
    GET /orgs/{org}/clusters/{cluster}/streams/{stream}/charts.json?range=…
    GET /orgs/{org}/clusters/{cluster}/streams/{stream}/consumers/{consumer}/charts.json?range=…

`range` is 15m, 1h, 6h, 24h, 7d or 30d (ending now), or `custom` with `from` and `to` (RFC
3339 or epoch seconds); a bad one is a 400 (`invalid_range`). The limits drawn as lines are
the consumer's `max_ack_pending` and the stream's `max_bytes` and `max_msgs`: the page passes
them in the data URL (`&max_ack_pending=1000`: it has just read the INFO), otherwise the route
asks NATS (one INFO request; when the cluster does not answer, or the object is gone, the
history is still drawn, without the line). The cluster's limits come from its samples.

A page shows the charts with `{% import "charts.html" as charts with context %}` and
`{{ charts.panel("consumer", limits={"max_ack_pending": …}) }}` (kinds: "consumer", "stream",
"cluster"; the data URL is the page's path + `/charts.json` unless `src` is given):
one time-range picker whose value is the page's `?range=` (plain links, so the URL says it),
a figure per chart with a heading and a text summary, and `static/src/charts.js`, which draws
them with uPlot (loaded on chart pages only).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from markupsafe import Markup, escape

from services.access import Access, access
from services.web.console import url_with
from services.web.pages import NO_STORE
from shared import errors
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.services import cluster_client
from shared.metrics import charts
from shared.nats import ClusterClient
from shared.streams.consumers import get_consumer
from shared.streams.services import get_stream

log = logging.getLogger("jetdeck.web.charts")

KINDS = {
    "consumer": (charts.CONSUMER_CHARTS, charts.CONSUMER_UNITS),
    "stream": (charts.STREAM_CHARTS, charts.STREAM_UNITS),
    "cluster": (charts.CLUSTER_CHARTS, charts.CLUSTER_UNITS),
}
# Limits a page may pass with the data URL (it has read them from NATS already).
CONSUMER_LIMITS = ("max_ack_pending",)
STREAM_LIMITS = ("max_bytes", "max_msgs")
RANGE_LABELS = {"15m": "15 m", "1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}


def _range(request: Request[Any, Any, Any]) -> charts.ChartRange:
    q = request.query_params
    return charts.parse_range(q.get("range"), q.get("from"), q.get("to"))


def _json(document: dict[str, Any]) -> Response[bytes]:
    # Compressed by the app's gzip (JSON is in its media types); never cached: "now" moves.
    return Response(
        charts.chart_json(document), media_type="application/json", headers=dict(NO_STORE)
    )


def _given_limits(request: Request[Any, Any, Any], names: tuple[str, ...]) -> dict[str, int] | None:
    """The limits the page passed (it has just read the object's INFO), or None when it passed
    none: then the route asks NATS."""
    given = {name: request.query_params.get(name) for name in names}
    if all(value is None for value in given.values()):
        return None
    out: dict[str, int] = {}
    for name, value in given.items():
        if value is None:
            continue
        try:
            out[name] = int(value)
        except ValueError:
            raise errors.Invalid(f"`{name}` {value!r} is not an integer", code="invalid") from None
    return out


async def _limits(
    request: Request[Any, Any, Any],
    names: tuple[str, ...],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    read_config: Callable[[ClusterClient], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The limits the page passed (it has just read the object's INFO), else the object's
    config as NATS reports it now; {} when the cluster does not answer or the object is gone:
    the history is still worth drawing, without its limit."""
    given = _given_limits(request, names)
    if given is not None:
        return given
    try:
        return await read_config(await cluster_client(backends, org_context, cluster))
    except (errors.Unavailable, errors.NotFound) as exc:
        log.info("chart limits unknown: %s", exc.detail)
        return {}


async def _consumer_config(client: ClusterClient, stream: str, consumer: str) -> dict[str, Any]:
    return (await get_consumer(client, stream, consumer)).get("config") or {}


async def _stream_config(client: ClusterClient, stream: str) -> dict[str, Any]:
    return (await get_stream(client, stream)).config


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}/charts.json",
    opt=access(Access.VIEWER),
)
async def consumer_charts(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Response[bytes]:
    """Backlog, ack pending (against `max_ack_pending`), redelivered, delivered/s and acked/s,
    time lag and time to drain of one consumer."""
    rng = _range(request)
    config = await _limits(
        request,
        CONSUMER_LIMITS,
        backends,
        org_context,
        cluster,
        lambda client: _consumer_config(client, stream, consumer),
    )
    document = await charts.consumer_chart(
        backends,
        org_context,
        cluster,
        stream,
        consumer,
        rng,
        max_ack_pending=config.get("max_ack_pending"),
    )
    return _json(document)


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/charts.json",
    opt=access(Access.VIEWER),
)
async def stream_charts(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[bytes]:
    """Messages (against `max_msgs`), bytes (against `max_bytes`) and ingest rate."""
    rng = _range(request)
    config = await _limits(
        request,
        STREAM_LIMITS,
        backends,
        org_context,
        cluster,
        lambda client: _stream_config(client, stream),
    )
    document = await charts.stream_chart(
        backends,
        org_context,
        cluster,
        stream,
        rng,
        max_bytes=config.get("max_bytes"),
        max_msgs=config.get("max_msgs"),
    )
    return _json(document)


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/charts.json",
    opt=access(Access.VIEWER),
)
async def cluster_charts(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
) -> Response[bytes]:
    """JetStream storage and memory used against the limits, and servers reachable."""
    return _json(await charts.cluster_chart(backends, org_context, cluster, _range(request)))


CHART_HANDLERS = [consumer_charts, stream_charts, cluster_charts]


# ---- the panel (templates/charts.html) ------------------------------------------------------


@dataclass(frozen=True)
class ChartSpec:
    title: str
    series: tuple[str, ...]
    unit: str


@dataclass(frozen=True)
class RangeChoice:
    key: str
    label: str
    url: str
    current: bool


@dataclass(frozen=True)
class ChartView:
    """What `charts.panel` renders: the data URL for the page's range, the range picker and
    the charts of `kind`; `error` when the page's `?range=` is not one."""

    kind: str
    data_url: str
    charts: tuple[ChartSpec, ...]
    choices: tuple[RangeChoice, ...]
    custom: bool
    start: str  # for the custom form's datetime-local fields (UTC)
    end: str
    keep: tuple[tuple[str, str], ...]  # the page's other query parameters (its tab…)
    error: str | None
    available: bool = True  # False: no ClickHouse, so no history to draw


def _local(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def chart_view(
    request: Request[Any, Any, Any],
    kind: str,
    src: str | None = None,
    limits: dict[str, Any] | None = None,
) -> ChartView:
    """The panel of the page `request` shows; its data comes from `src`, by default the page's
    own path + `/charts.json` (the routes above mirror the pages' paths)."""
    src = src or request.url.path.rstrip("/") + "/charts.json"
    if kind not in KINDS:
        raise ValueError(f"no chart kind {kind!r}; known: {', '.join(KINDS)}")
    specs, units = KINDS[kind]
    error = None
    try:
        rng = _range(request)
    except errors.Invalid as exc:
        error = exc.detail
        rng = charts.parse_range(None)
    allowed = CONSUMER_LIMITS if kind == "consumer" else STREAM_LIMITS if kind == "stream" else ()
    params = {
        **rng.query(),
        # A limit the config does not hold is left out (a Jinja Undefined, None).
        **{
            k: str(int(v))
            for k, v in (limits or {}).items()
            if k in allowed and isinstance(v, int | float) and not isinstance(v, bool)
        },
    }
    data_url = src + "?" + "&".join(f"{k}={v}" for k, v in _quoted(params))
    choices = tuple(
        RangeChoice(
            key,
            label,
            url_with(request, range=key, **{"from": None, "to": None}),
            rng.key == key,
        )
        for key, label in RANGE_LABELS.items()
    )
    keep = tuple(
        (k, v) for k, v in request.query_params.items() if k not in ("range", "from", "to")
    )
    backends = getattr(getattr(getattr(request, "app", None), "state", None), "backends", None)
    return ChartView(
        available=backends is None or backends.clickhouse is not None,
        kind=kind,
        data_url=data_url,
        charts=tuple(ChartSpec(title, names, units[names[0]]) for title, names in specs),
        choices=choices,
        custom=rng.key == "custom",
        start=_local(rng.start),
        end=_local(rng.end),
        keep=keep,
        error=error,
    )


def _quoted(params: dict[str, str]) -> list[tuple[str, str]]:
    from urllib.parse import quote

    return [(k, quote(v, safe="")) for k, v in params.items()]


@pass_context
def _chart_view(
    context: Context, kind: str, src: str | None = None, limits: dict[str, Any] | None = None
) -> ChartView:
    return chart_view(context["request"], kind, src, limits)


# ---- dashboard sparklines -------------------------------------------------------------------


def sparkline_svg(
    values: list[int | float | None], label: str, *, width: int = 120, height: int = 24
) -> Markup:
    """A small inline SVG line of `values` (oldest first), broken where a value is None (no
    sample: never a line across the gap); its text alternative is `label`."""
    known = [v for v in values if v is not None]
    top = max(known, default=0) or 1
    n = max(len(values) - 1, 1)
    pad = 2

    def at(i: int, v: float) -> str:
        x = pad + i * (width - 2 * pad) / n
        return f"{round(x, 1)} {round(pad + (height - 2 * pad) * (1 - v / top), 1)}"

    path: list[str] = []
    dots: list[str] = []  # a lone sample between gaps is a dot, not a zero-length line
    for i, v in enumerate(values):
        if v is None:
            continue
        alone_before = i == 0 or values[i - 1] is None
        path.append(("M" if alone_before else "L") + at(i, v))
        if alone_before and (i == len(values) - 1 or values[i + 1] is None):
            x, y = at(i, v).split()
            dots.append(f'<circle cx="{x}" cy="{y}" r="1.5"/>')
    # Only numbers and the escaped label go into the markup.
    return Markup(  # noqa: S704
        f'<svg class="sparkline" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
        f'<path d="{" ".join(path)}" fill="none" stroke="currentColor" stroke-width="1.5" '
        f'vector-effect="non-scaling-stroke"/>'
        f'<g fill="currentColor">{"".join(dots)}</g></svg>'
    )


def install(env: Environment) -> None:
    """Template globals: `chart_view(kind, src)` (for templates/charts.html)."""
    env.globals.update(chart_view=_chart_view)
