"""The console's chart data routes (viewer, session cookie, compressed JSON from
shared/metrics/charts.py with the limits NATS reports), the range picker's view of a page's
`?range=`, and the dashboard's server-drawn sparklines."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from services.web.charts import chart_view, sparkline_svg
from shared.metrics.collector import cycle_time
from tests.fixtures.accounts import web_login
from tests.services.api.test_metrics import collect

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
CONSUMER = "/orgs/acme/clusters/main/streams/ORDERS/consumers/BILLING/charts.json"
STREAM = "/orgs/acme/clusters/main/streams/ORDERS/charts.json"
CLUSTER = "/orgs/acme/clusters/main/charts.json"


async def _sign_in(client: Any, make_user: Any, role: str = "viewer", org: str = "acme") -> None:
    await make_user(f"{role}@example.com", org_slug=org, role=role)
    assert (await web_login(client, f"{role}@example.com")).status_code == 303


async def orders_with_a_backlog(api: Any) -> None:
    """ORDERS (max_bytes 1 MiB) holding 7 messages; BILLING (max_ack_pending 50) has none
    delivered: 7 pending."""
    await api.create_stream("ORDERS", max_bytes=1 << 20)
    for i in range(7):
        response = await api.post(
            "/streams/ORDERS/messages", json={"subject": "orders.new", "text": str(i)}
        )
        assert response.status_code in (200, 201), response.text
    consumer = {"durable_name": "BILLING", "ack_policy": "explicit", "max_ack_pending": 50}
    assert (await api.post("/streams/ORDERS/consumers", json=consumer)).status_code == 201


def _last(column: list[Any]) -> Any:
    return next(v for v in reversed(column) if v is not None)


async def test_a_viewer_reads_a_consumers_and_a_streams_charts_with_the_limits_nats_reports(
    client, make_user, on_server, settings, clickhouse
) -> None:
    await orders_with_a_backlog(on_server)
    await collect(settings, cycle_time(10))
    await _sign_in(client, make_user)

    response = await client.get(CONSUMER, params={"range": "1h"}, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers["cache-control"]
    doc = response.json()
    assert set(doc) == {"x", "series", "units", "limits", "step", "from", "to", "refresh"}
    assert set(doc["series"]) == {
        "num_pending",
        "num_ack_pending",
        "num_redelivered",
        "delivered_rate",
        "ack_rate",
        "time_lag_seconds",
        "time_to_drain_seconds",
    }
    assert all(len(column) == len(doc["x"]) for column in doc["series"].values())
    assert _last(doc["series"]["num_pending"]) == 7
    assert _last(doc["series"]["num_ack_pending"]) == 0
    assert doc["limits"] == {"num_ack_pending": 50}
    assert doc["units"]["num_pending"] == "msgs" and doc["units"]["ack_rate"] == "/s"
    assert doc["to"] - doc["from"] == 3600
    assert doc["refresh"] == settings.workers.collect_interval

    # The limit the page passes (from the INFO it has just read) is the one drawn.
    given = await client.get(CONSUMER, params={"max_ack_pending": "20"}, headers=JSON)
    assert given.json()["limits"] == {"num_ack_pending": 20}
    wrong = await client.get(CONSUMER, params={"max_ack_pending": "many"}, headers=JSON)
    assert wrong.status_code == 400

    stream = (await client.get(STREAM, params={"range": "24h"}, headers=JSON)).json()
    assert _last(stream["series"]["messages"]) == 7
    assert stream["limits"] == {"bytes": 1 << 20}
    assert stream["to"] - stream["from"] == 86400

    cluster = (await client.get(CLUSTER, headers=JSON)).json()  # default: the last hour
    assert set(cluster["series"]) == {"storage_used", "memory_used", "servers_reachable"}
    assert _last(cluster["series"]["servers_reachable"]) == 1
    assert cluster["to"] - cluster["from"] == 3600


async def test_chart_data_is_compressed_for_a_client_that_accepts_gzip(
    client, make_user, on_server, settings, clickhouse
) -> None:
    await orders_with_a_backlog(on_server)
    await collect(settings, cycle_time(10))
    await _sign_in(client, make_user)
    response = await client.get(
        CONSUMER, params={"range": "7d"}, headers={**JSON, "Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "num_pending" in response.json()["series"]  # httpx decoded it
    raw = gzip.compress(json.dumps(response.json()).encode())
    assert len(raw) < 100_000


async def test_a_custom_range_with_a_collection_gap_reads_null_in_the_gap_and_never_refreshes(
    client, make_user, on_server, settings, clickhouse
) -> None:
    await orders_with_a_backlog(on_server)
    await _sign_in(client, make_user)
    ids = await _ids(on_server)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    # 30 samples 10 s apart, of which the 11th to the 20th were never collected.
    await clickhouse.command(
        f"INSERT INTO {clickhouse.database}.consumer_samples (ts, org_id, cluster_id, account, "
        "stream, consumer, num_pending, num_ack_pending, num_redelivered, num_waiting, "
        "delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer_seq, "
        "ack_floor_stream_seq, delivered_total, acked_total, time_lag_seconds) "
        "SELECT toDateTime({start:UInt32} + number * 10, 'UTC'), {org:String}, {cluster:String}, "
        "'$G', 'ORDERS', 'BILLING', 100 + number, 3, 0, 0, 0, 0, 0, 0, number * 10, "
        "number * 10, 1.5 FROM numbers(30) WHERE number < 10 OR number >= 20",
        {"start": int(start.timestamp()), **ids},
    )
    params = {
        "range": "custom",
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": (start + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    doc = (await client.get(CONSUMER, params=params, headers=JSON)).json()
    pending = doc["series"]["num_pending"]
    assert doc["step"] == 10 and doc["refresh"] is None
    assert pending[:10] == list(range(100, 110))
    assert pending[10:20] == [None] * 10  # the gap: nothing drawn across it
    assert pending[20:30] == list(range(120, 130))
    assert doc["series"]["ack_rate"][20] is None  # a rate over the gap would be made up


async def test_an_invalid_range_is_a_400_json_error_or_an_error_page(
    client, make_user, on_server
) -> None:
    await _sign_in(client, make_user)
    bad = await client.get(CONSUMER, params={"range": "2y"}, headers=JSON)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_range"
    page = await client.get(STREAM, params={"range": "custom"}, headers=HTML)
    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"]
    assert "custom range needs" in page.text
    backwards = {"range": "custom", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    answer = await client.get(CLUSTER, params=backwards, headers=JSON)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_range"


async def test_another_organizations_or_an_unknown_clusters_charts_are_not_found(
    client, make_user, on_server
) -> None:
    await make_user("someone@example.com", org_slug="globex", role="owner")
    await _sign_in(client, make_user)
    for path in (CONSUMER, STREAM, CLUSTER):
        assert (await client.get(path.replace("acme", "globex"), headers=JSON)).status_code == 404
    unknown = "/orgs/acme/clusters/nope/charts.json"
    assert (await client.get(unknown, headers=JSON)).status_code == 404


async def test_chart_data_needs_a_session(client, on_server) -> None:
    response = await client.get(CONSUMER, headers=JSON)
    assert response.status_code == 401
    page = await client.get(CONSUMER, headers=HTML)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


async def test_the_dashboard_draws_each_lagging_consumers_last_hour_as_a_sparkline(
    client, make_user, on_server, settings, clickhouse
) -> None:
    await orders_with_a_backlog(on_server)
    await collect(settings, cycle_time(10))
    await _sign_in(client, make_user)
    page = (await client.get("/orgs/acme", headers=HTML)).text
    assert '<th scope="col">Last hour</th>' in page
    assert 'class="sparkline" role="img"' in page
    assert "Backlog of BILLING over the last hour: from 7 to 7" in page


def test_a_sparkline_breaks_at_a_gap_and_marks_a_lone_sample_with_a_dot() -> None:
    svg = str(sparkline_svg([1, 2, None, None, 4, None, 3], "lag"))
    path = svg.split(' d="')[1].split('"')[0]
    assert path.count("M") == 3 and path.count("L") == 1  # 1→2, then 4 alone, then 3 alone
    assert svg.count("<circle") == 2
    assert 'aria-label="lag"' in svg
    assert "<script" not in str(sparkline_svg([1], '<script>"')) and "&lt;script" in str(
        sparkline_svg([1], "<script>")
    )


def _request(path: str, query: dict[str, str]) -> Any:
    return SimpleNamespace(url=SimpleNamespace(path=path), query_params=query)


def test_the_range_picker_keeps_the_pages_other_parameters_and_says_which_range_is_shown() -> None:
    view = chart_view(
        _request("/orgs/acme/clusters/main/streams/ORDERS", {"tab": "overview", "range": "6h"}),
        "stream",
        "/orgs/acme/clusters/main/streams/ORDERS/charts.json",
    )
    assert view.data_url.endswith("/charts.json?range=6h")
    assert [c.key for c in view.choices if c.current] == ["6h"]
    urls = {c.key: c.url for c in view.choices}
    assert urls["30d"] == "/orgs/acme/clusters/main/streams/ORDERS?tab=overview&range=30d"
    assert view.keep == (("tab", "overview"),)
    assert [c.title for c in view.charts] == ["Messages", "Bytes", "Ingest rate"]
    assert [c.unit for c in view.charts] == ["msgs", "bytes", "/s"]

    custom = chart_view(
        _request(
            "/x", {"range": "custom", "from": "2026-11-30T10:00:00Z", "to": "2026-11-30T12:30"}
        ),
        "consumer",
        "/x/charts.json",
    )
    assert custom.custom and custom.error is None
    assert (custom.start, custom.end) == ("2026-11-30T10:00", "2026-11-30T12:30")
    assert "from=2026-11-30T10%3A00%3A00Z" in custom.data_url
    limited = chart_view(
        _request("/c", {}), "consumer", None, {"max_ack_pending": 7, "max_bytes": 9}
    )
    assert limited.data_url == "/c/charts.json?range=1h&max_ack_pending=7"
    no_limit = chart_view(_request("/c", {}), "consumer", None, {"max_ack_pending": None})
    assert no_limit.data_url == "/c/charts.json?range=1h"  # then the route asks NATS

    wrong = chart_view(_request("/x", {"range": "forever"}), "cluster", "/x/charts.json")
    assert wrong.error and "forever" in wrong.error
    assert wrong.data_url.endswith("?range=1h")  # the panel falls back to the last hour
    assert wrong.available


def test_without_clickhouse_the_panel_says_no_history_is_collected_instead_of_fetching() -> None:
    request = _request("/orgs/acme/clusters/main", {})
    request.app = SimpleNamespace(state=SimpleNamespace(backends=SimpleNamespace(clickhouse=None)))
    assert not chart_view(request, "cluster").available


async def _ids(api: Any) -> dict[str, str]:
    cluster = await api.get(headers=api.admin)
    org = await api.client.get("/api/v1/orgs/acme", headers=api.admin)
    return {"cluster": cluster.json()["id"], "org": org.json()["id"]}


async def test_the_consumer_stream_and_cluster_pages_carry_one_range_picker_and_their_charts(
    client, make_user, on_server, settings, clickhouse
) -> None:
    await orders_with_a_backlog(on_server)
    await _sign_in(client, make_user)
    pages = {
        "/orgs/acme/clusters/main/streams/ORDERS/consumers/BILLING": (
            ("Backlog", "Time to drain"),
            "&amp;max_ack_pending=50",  # the page read the INFO: the data route need not
        ),
        "/orgs/acme/clusters/main/streams/ORDERS": (
            ("Messages", "Ingest rate"),
            "&amp;max_bytes=1048576&amp;max_msgs=-1",
        ),
        "/orgs/acme/clusters/main": (("Storage", "Servers reachable"), ""),
    }
    for path, (titles, limits) in pages.items():
        page = await client.get(path, params={"range": "7d"}, headers=HTML)
        assert page.status_code == 200, page.text
        text = page.text
        assert text.count('<nav class="range-picker" aria-label="Time range">') == 1
        assert f'data-charts="{path}/charts.json?range=7d{limits}"' in text
        assert '<a href="' + path + '?range=7d" aria-current="true">7 d</a>' in text
        for title in titles:
            assert f'data-title="{title}"' in text
        assert text.count('class="chart-canvas" aria-hidden="true"') >= 3
        assert "/static/charts." in text and "/static/uplot." in text
    dashboard = (await client.get("/orgs/acme", headers=HTML)).text
    assert "/static/uplot." not in dashboard  # uPlot only on chart pages
