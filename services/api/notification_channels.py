"""/api/v1/orgs/{org}/notification-channels (admin): channels, send test, rotate a webhook's
signing secret, recent deliveries."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from services.access import Access, access
from services.api.auth import OrgContext
from services.api.params import Limit, Offset
from shared.accounts.schemas import Page
from shared.backends import Backends
from shared.notify import channels
from shared.notify.schemas import ChannelIn, ChannelOut, ChannelPatch, DeliveryOut, TestResult


class NotificationChannelController(Controller):
    path = "/orgs/{org:str}/notification-channels"
    tags = ["alerts"]

    @get("/", opt=access(Access.ADMIN))
    async def list_channels(
        self, org_context: NamedDependency[OrgContext], backends: NamedDependency[Backends]
    ) -> Page[ChannelOut]:
        return await channels.list_channels(backends, org_context)

    @post("/", opt=access(Access.ADMIN, audit="notification_channel.create"))
    async def create_channel(
        self,
        data: JSONBody[ChannelIn],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ChannelOut:
        return await channels.create_channel(backends, org_context, data)

    @get("/{channel_id:str}", opt=access(Access.ADMIN))
    async def get_channel(
        self,
        channel_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ChannelOut:
        return await channels.get_channel(backends, org_context, channel_id)

    @patch("/{channel_id:str}", opt=access(Access.ADMIN, audit="notification_channel.update"))
    async def update_channel(
        self,
        channel_id: FromPath[str],
        data: JSONBody[ChannelPatch],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ChannelOut:
        return await channels.update_channel(backends, org_context, channel_id, data)

    @delete("/{channel_id:str}", opt=access(Access.ADMIN, audit="notification_channel.delete"))
    async def delete_channel(
        self,
        channel_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> None:
        await channels.delete_channel(backends, org_context, channel_id)

    @post(
        "/{channel_id:str}/test",
        status_code=HTTP_200_OK,
        opt=access(Access.ADMIN, audit="notification_channel.test"),
    )
    async def send_test(
        self,
        channel_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> TestResult:
        return await channels.send_test(backends, org_context, channel_id)

    @post(
        "/{channel_id:str}/rotate-secret",
        status_code=HTTP_200_OK,
        opt=access(Access.ADMIN, audit="notification_channel.rotate_secret"),
    )
    async def rotate_secret(
        self,
        channel_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
    ) -> ChannelOut:
        return await channels.rotate_secret(backends, org_context, channel_id)

    @get("/{channel_id:str}/deliveries", opt=access(Access.ADMIN))
    async def list_deliveries(
        self,
        channel_id: FromPath[str],
        org_context: NamedDependency[OrgContext],
        backends: NamedDependency[Backends],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[DeliveryOut]:
        return await channels.list_deliveries(
            backends, org_context, channel_id, offset=offset, limit=limit
        )
