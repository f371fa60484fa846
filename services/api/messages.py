"""/api/v1/orgs/{org}/clusters/{cluster}/streams/{stream}/messages: browse, search, get,
delete, publish, export, tail. Reading never creates a consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, Stream
from litestar.response.sse import ServerSentEventMessage

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit
from services.api.streams import NATS_DEPENDENCY
from services.sse import LIVE, keepalive, opening
from shared.backends import Backends
from shared.messages import services
from shared.messages.schemas import Direction, Message, MessagePage, Published, PublishIn
from shared.nats import ClusterClient

# Optional as `FromQuery[Seq | None]`: Litestar does not see a marker inside a union as the
# parameter's own.
Seq = Annotated[int, QueryParameter(ge=1)]


def answers_as(*media_types: str) -> type[Operation]:
    """An operation whose 200 is a stream in one of these media types, which its return
    annotation cannot tell OpenAPI (it would document `application/json`)."""

    @dataclass
    class Streamed(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                text = Schema(type=OpenAPIType.STRING)
                ok.content = {media: OpenAPIMediaType(schema=text) for media in media_types}

    return Streamed


class MessageController(Controller):
    path = "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/messages"
    tags = ["messages"]
    dependencies = NATS_DEPENDENCY

    @get("/", opt=access(Access.VIEWER))
    async def browse_messages(
        self,
        stream: FromPath[str],
        nats: NamedDependency[ClusterClient],
        backends: NamedDependency[Backends],
        start_seq: FromQuery[Seq | None] = None,
        start_time: FromQuery[str | None] = None,
        subject: FromQuery[str | None] = None,
        direction: FromQuery[Direction] = "forward",
        limit: Limit = 100,
        q: FromQuery[str | None] = None,
    ) -> MessagePage:
        bounds = backends.settings.messages
        return await services.browse(
            nats,
            stream,
            start_seq=start_seq,
            start_time=start_time,
            subject=subject,
            direction=direction,
            limit=limit,
            q=q,
            page_bytes=bounds.page_bytes,
            batch_bytes=bounds.batch_bytes,
        )

    @get(
        "/export",
        opt=access(Access.VIEWER),
        operation_class=answers_as("application/x-ndjson", "text/csv"),
    )
    async def export_messages(
        self,
        stream: FromPath[str],
        nats: NamedDependency[ClusterClient],
        backends: NamedDependency[Backends],
        format: FromQuery[Literal["ndjson", "csv"]] = "ndjson",
        start_seq: FromQuery[Seq | None] = None,
        start_time: FromQuery[str | None] = None,
        subject: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
    ) -> Stream:
        chunks = await services.export(
            nats,
            stream,
            fmt=format,
            start_seq=start_seq,
            start_time=start_time,
            subject=subject,
            q=q,
            batch_bytes=backends.settings.messages.batch_bytes,
        )
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return Stream(
            chunks,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{stream}.{format}"'},
        )

    @get(
        "/tail",
        opt={**access(Access.VIEWER), **LIVE},
        operation_class=answers_as("text/event-stream"),
    )
    async def tail_messages(
        self,
        stream: FromPath[str],
        nats: NamedDependency[ClusterClient],
        backends: NamedDependency[Backends],
        org_context: NamedDependency[OrgContext],
        subject: FromQuery[str | None] = None,
    ) -> ServerSentEvent:
        """Events: `message` (a message as JSON), `skipped` (`{"skipped": n}`: the client fell
        behind and missed n messages), `end` (`{"reason": "stream_deleted"}`, last); a
        `: keepalive` comment after 15 s without any. The response begins at once (headers
        and a `retry:` line, uncompressed: services/sse.py)."""
        principal = org_context.principal
        sub = await backends.tails.subscribe(
            nats, stream, subject=subject, user=str(principal.user_id or principal.id)
        )

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            try:
                yield opening()
                async for event in sub:
                    if event.kind == "heartbeat":
                        yield keepalive()
                        continue
                    if event.kind == "message":
                        data = msgspec.json.encode(event.message).decode()
                    elif event.kind == "skipped":
                        data = msgspec.json.encode({"skipped": event.skipped}).decode()
                    else:
                        data = msgspec.json.encode({"reason": event.reason}).decode()
                    yield ServerSentEventMessage(data=data, event=event.kind)
            finally:
                sub.close()

        return ServerSentEvent(events())

    @get("/last", opt=access(Access.VIEWER))
    async def last_message(
        self, stream: FromPath[str], subject: FromQuery[str], nats: NamedDependency[ClusterClient]
    ) -> Message:
        return await services.last_message(nats, stream, subject)

    @get("/{seq:int}", opt=access(Access.VIEWER))
    async def get_message(
        self, stream: FromPath[str], seq: FromPath[int], nats: NamedDependency[ClusterClient]
    ) -> Message:
        return await services.get_message(nats, stream, seq)

    @delete("/{seq:int}", opt=access(Access.EDITOR, audit="message.delete"))
    async def delete_message(
        self,
        stream: FromPath[str],
        seq: FromPath[int],
        nats: NamedDependency[ClusterClient],
        erase: FromQuery[bool] = False,
    ) -> None:
        await services.delete_message(nats, stream, seq, erase=erase)

    @post("/", opt=access(Access.EDITOR, audit="message.publish"))
    async def publish_message(
        self, stream: FromPath[str], data: JSONBody[PublishIn], nats: NamedDependency[ClusterClient]
    ) -> Published:
        return await services.publish(nats, stream, data)
