"""Streams and consumers in the console: the stream page with its tabs and the consumer page.

    /orgs/{org}/clusters/{cluster}/streams/{stream}?tab=overview|consumers|config|messages
    /orgs/{org}/clusters/{cluster}/streams/{stream}/consumers/{consumer}

The stream page's tab content is the `stream_tab` block (a tab link swaps only it and pushes
the URL). Blocks other branches fill: `stream_charts` (Overview) and `consumer_charts`
(consumer page) for the charts; the Messages tab includes `stream_messages.html` with the
context of `services.web.messages.messages_tab_context`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.access import Access, access
from services.web import messages
from services.web.console import Crumb, org_url, render
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.services import cluster_client
from shared.nats import ClusterClient
from shared.streams import consumers, services
from shared.streams.names import check_names

TABS = ("overview", "consumers", "config", "messages")


async def nats_client(
    backends: Backends,
    org_context: OrgContext,
    cluster: FromPath[str],
    stream: str | None = None,
    consumer: str | None = None,
) -> ClusterClient:
    """The cluster's pooled connection; names checked first (a bad one is 404)."""
    check_names(stream=stream, consumer=consumer)
    return await cluster_client(backends, org_context, cluster)


def stream_url(org: OrgContext, cluster: str, stream: str | None = None, *more: str) -> str:
    parts = ["clusters", cluster, "streams"]
    if stream is not None:
        parts.append(stream)
    return org_url(org.slug, *parts, *more)


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}",
    opt=access(Access.VIEWER),
    include_in_schema=False,
)
async def stream_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    tab: FromQuery[str] = "overview",
) -> Template:
    """One stream: Overview, Consumers, Config and Messages tabs (`?tab=`)."""
    tab = tab if tab in TABS else "overview"
    client = await nats_client(backends, org_context, cluster, stream)
    info = await services.get_stream(client, stream)
    context: dict[str, Any] = {}
    if tab == "consumers":
        context["consumer_list"], _ = await consumers.list_consumers(client, stream, limit=1000)
    elif tab == "messages":
        context.update(
            await messages.messages_tab_context(
                request, backends, client, org_context, cluster, info
            )
        )
    return await render(
        request,
        backends,
        "stream.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=[
            Crumb(cluster, org_url(org_context.slug, "clusters", cluster)),
            Crumb("Streams", stream_url(org_context, cluster)),
            Crumb(stream),
        ],
        fragments=("stream_tab",),
        tab=tab,
        tabs=TABS,
        stream=info,
        stream_name=stream,
        stream_path=stream_url(org_context, cluster, stream),
        **context,
    )


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}",
    opt=access(Access.VIEWER),
    include_in_schema=False,
)
async def consumer_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Template:
    """One consumer: its state and config."""
    client = await nats_client(backends, org_context, cluster, stream, consumer)
    info = await consumers.get_consumer(client, stream, consumer)
    return await render(
        request,
        backends,
        "consumer.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=[
            Crumb(cluster, org_url(org_context.slug, "clusters", cluster)),
            Crumb("Streams", stream_url(org_context, cluster)),
            Crumb(stream, stream_url(org_context, cluster, stream) + "?tab=consumers"),
            Crumb(consumer),
        ],
        fragments=("consumer_live",),
        stream_name=stream,
        consumer=info,
    )


HANDLERS = [stream_page, consumer_page]
