"""/api/v1/orgs/{org}/clusters/{cluster}/streams/{stream}/consumers: NATS ConsumerConfig JSON."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from services.access import Access, access
from services.api.params import Limit, Offset
from services.api.streams import NATS_DEPENDENCY
from shared.accounts.schemas import Page
from shared.nats import ClusterClient
from shared.streams import consumers
from shared.streams.schemas import PauseIn


class ConsumerController(Controller):
    path = "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers"
    tags = ["consumers"]
    dependencies = NATS_DEPENDENCY

    @get("/", opt=access(Access.VIEWER))
    async def list_consumers(
        self,
        stream: FromPath[str],
        nats: NamedDependency[ClusterClient],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[dict[str, Any]]:
        items, total = await consumers.list_consumers(nats, stream, offset=offset, limit=limit)
        return Page(items=items, total=total)

    @post("/", opt=access(Access.EDITOR, audit="consumer.create"))
    async def create_consumer(
        self,
        stream: FromPath[str],
        data: JSONBody[dict[str, Any]],
        nats: NamedDependency[ClusterClient],
    ) -> dict[str, Any]:
        return await consumers.create_consumer(nats, stream, data)

    @get("/{consumer:str}", opt=access(Access.VIEWER))
    async def get_consumer(
        self, stream: FromPath[str], consumer: FromPath[str], nats: NamedDependency[ClusterClient]
    ) -> dict[str, Any]:
        return await consumers.get_consumer(nats, stream, consumer)

    @put("/{consumer:str}", opt=access(Access.EDITOR, audit="consumer.update"))
    async def update_consumer(
        self,
        stream: FromPath[str],
        consumer: FromPath[str],
        data: JSONBody[dict[str, Any]],
        nats: NamedDependency[ClusterClient],
    ) -> dict[str, Any]:
        return await consumers.update_consumer(nats, stream, consumer, data)

    @delete("/{consumer:str}", opt=access(Access.EDITOR, audit="consumer.delete"))
    async def delete_consumer(
        self, stream: FromPath[str], consumer: FromPath[str], nats: NamedDependency[ClusterClient]
    ) -> None:
        await consumers.delete_consumer(nats, stream, consumer)

    @post(
        "/{consumer:str}/pause",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit="consumer.pause"),
    )
    async def pause_consumer(
        self,
        stream: FromPath[str],
        consumer: FromPath[str],
        data: JSONBody[PauseIn],
        nats: NamedDependency[ClusterClient],
    ) -> dict[str, Any]:
        return await consumers.pause_consumer(nats, stream, consumer, data.until)

    @post(
        "/{consumer:str}/resume",
        status_code=HTTP_200_OK,
        opt=access(Access.EDITOR, audit="consumer.resume"),
    )
    async def resume_consumer(
        self, stream: FromPath[str], consumer: FromPath[str], nats: NamedDependency[ClusterClient]
    ) -> dict[str, Any]:
        return await consumers.pause_consumer(nats, stream, consumer, None)
