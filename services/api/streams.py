"""/api/v1/orgs/{org}/clusters/{cluster}/streams: NATS StreamConfig JSON in and out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts.schemas import Page
from shared.backends import Backends
from shared.clusters.services import cluster_client
from shared.nats import ClusterClient
from shared.streams import services
from shared.streams.names import check_names
from shared.streams.schemas import Purged, PurgeIn, SortKey, StreamInfo, StreamSummary


async def provide_nats(
    request: Request[Any, Any, Any],
    cluster: FromPath[str],
    org_context: NamedDependency[OrgContext],
    backends: NamedDependency[Backends],
) -> ClusterClient:
    """The cluster named in the path, connected; stream and consumer names checked first."""
    params = request.path_params
    check_names(stream=params.get("stream"), consumer=params.get("consumer"))
    return await cluster_client(backends, org_context, cluster)


NATS_DEPENDENCY = {"nats": Provide(provide_nats)}


class StreamController(Controller):
    path = "/orgs/{org:str}/clusters/{cluster:str}/streams"
    tags = ["streams"]
    dependencies = NATS_DEPENDENCY

    @get("/", opt=access(Access.VIEWER))
    async def list_streams(
        self,
        nats: NamedDependency[ClusterClient],
        search: FromQuery[str | None] = None,
        sort: FromQuery[SortKey] = "name",
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[StreamSummary]:
        """Every stream of the cluster, searched, sorted and paged. The listing is shared by
        requests for up to 5 s: a change made through JetDeck shows in the next list, a change
        made elsewhere (and message figures) within those 5 s."""
        items, total = await services.list_streams(
            nats, search=search, sort=sort, offset=offset, limit=limit
        )
        return Page(items=items, total=total)

    @post("/", opt=access(Access.EDITOR, audit="stream.create"))
    async def create_stream(
        self, data: JSONBody[dict[str, Any]], nats: NamedDependency[ClusterClient]
    ) -> StreamInfo:
        return await services.create_stream(nats, data)

    @get("/{stream:str}", opt=access(Access.VIEWER))
    async def get_stream(
        self, stream: FromPath[str], nats: NamedDependency[ClusterClient]
    ) -> StreamInfo:
        return await services.get_stream(nats, stream)

    @put("/{stream:str}", opt=access(Access.EDITOR, audit="stream.update"))
    async def update_stream(
        self,
        stream: FromPath[str],
        data: JSONBody[dict[str, Any]],
        nats: NamedDependency[ClusterClient],
        dry_run: FromQuery[bool] = False,
    ) -> dict[str, Any]:
        return services.update_body(
            await services.update_stream(nats, stream, data, dry_run=dry_run)
        )

    @delete("/{stream:str}", opt=access(Access.EDITOR, audit="stream.delete"))
    async def delete_stream(
        self, stream: FromPath[str], nats: NamedDependency[ClusterClient]
    ) -> None:
        await services.delete_stream(nats, stream)

    @post(
        "/{stream:str}/purge",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit="stream.purge"),
    )
    async def purge_stream(
        self, stream: FromPath[str], data: JSONBody[PurgeIn], nats: NamedDependency[ClusterClient]
    ) -> Purged:
        return Purged(purged=await services.purge_stream(nats, stream, data))
