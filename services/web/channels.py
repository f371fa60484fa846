"""Notification channels (admins): the list with each channel's last error and circuit
breaker, a form per kind (secrets are write-only: shown as "set", replaceable), a webhook's
signing secret shown once, enable/disable, "Send test" (the alert path: outbox, signing, SSRF
guard), recent deliveries with their errors, and delete by typed name (conventions:
services/web/console.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from services.access import Access, access
from services.web.console import Crumb, org_url, read_form, render, see_other, submit_form
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.errors import Conflict, Invalid
from shared.notify import channels
from shared.notify.schemas import ChannelIn, ChannelOut, ChannelPatch, TestResult

KINDS = (
    ("webhook", "Webhook"),
    ("slack", "Slack"),
    ("email", "Email"),
    ("pagerduty", "PagerDuty"),
    ("telegram", "Telegram"),
)
# The form's fields per kind: (config key, label, secret, input type, help).
FIELDS: dict[str, tuple[tuple[str, str, bool, str, str], ...]] = {
    "slack": (("webhook_url", "Incoming webhook URL", True, "url", ""),),
    "webhook": (
        ("url", "URL", True, "url", "JetDeck POSTs JSON signed per Standard Webhooks."),
        ("headers", "Extra headers", True, "textarea", "One “Name: value” a line."),
    ),
    "email": (("to", "To", False, "textarea", "Email addresses, one a line or comma-separated."),),
    "pagerduty": (("routing_key", "Routing key", True, "text", "Events API v2 integration key."),),
    "telegram": (
        ("bot_token", "Bot token", True, "text", ""),
        ("chat_id", "Chat id", False, "text", ""),
    ),
}
RECENT_DELIVERIES = 20


def _kind(value: str | None) -> str:
    return value if value in FIELDS else "webhook"


def _name(form: dict[str, str]) -> str:
    name = (form.get("name") or "").strip()
    if not name:
        raise Invalid("name: a channel needs a name", extra={"field": "name"})
    return name


def _config(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The channel config the form describes; an empty secret leaves the stored one."""
    config: dict[str, Any] = {}
    for key, _label, secret, _type, _help in FIELDS[kind]:
        text = (form.get(f"config.{key}") or "").strip()
        if key == "headers":
            if not text:
                continue
            headers: dict[str, str] = {}
            for line in text.splitlines():
                if not line.strip():
                    continue
                name, sep, value = line.partition(":")
                if not sep or not name.strip():
                    raise Invalid(
                        "config.headers: one `Name: value` a line",
                        extra={"field": "config.headers"},
                    )
                headers[name.strip()] = value.strip()
            config[key] = headers
        elif key == "to":
            config[key] = [a.strip() for a in text.replace(",", "\n").splitlines() if a.strip()]
        elif text or not secret:
            config[key] = text
    return config


async def _list_view(
    request: Request[Any, Any, Any], backends: Backends, org_context: OrgContext
) -> Template:
    listing = await channels.list_channels(backends, org_context)
    return await render(
        request,
        backends,
        "channels.html",
        org=org_context,
        section="channels",
        crumbs=[Crumb("Channels")],
        fragments=("channels_table",),
        channel_list=listing.items,
        kinds=KINDS,
    )


@get("/orgs/{org:str}/settings/channels", opt=access(Access.ADMIN))
async def channels_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    return await _list_view(request, backends, org_context)


async def _channel_form(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    *,
    channel: ChannelOut | None,
    kind: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    signing_secret: str | None = None,
    test: TestResult | None = None,
    status_code: int = 200,
) -> Template:
    """The new-channel form (`kind`), or a channel's page; `values`: what the user typed
    (else the channel's own)."""
    kind = kind or (channel.kind if channel else "webhook")
    if values is None:
        values = _values_of(channel) if channel else {}
    deliveries = (
        (
            await channels.list_deliveries(
                backends, org_context, channel.id, limit=RECENT_DELIVERIES
            )
        ).items
        if channel
        else []
    )
    return await render(
        request,
        backends,
        "channel.html",
        org=org_context,
        section="channels",
        crumbs=[
            Crumb("Channels", org_url(org_context.slug, "settings", "channels")),
            Crumb(channel.name if channel else "New channel"),
        ],
        fragments=("channel_test",),
        status_code=status_code,
        channel=channel,
        kind=kind,
        kinds=KINDS,
        fields=FIELDS[kind],
        values=values,
        errors=errors or {},
        signing_secret=signing_secret,
        test=test,
        deliveries=deliveries,
    )


def _values_of(channel: ChannelOut) -> dict[str, str]:
    values = {"name": channel.name}
    config = channel.config
    if channel.kind == "email":
        values["config.to"] = "\n".join(config.get("to") or [])
    if channel.kind == "telegram":
        values["config.chat_id"] = str(config.get("chat_id") or "")
    return values


@get("/orgs/{org:str}/settings/channels/new", opt=access(Access.ADMIN))
async def new_channel_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Template:
    """`?kind=webhook|slack|email|pagerduty|telegram` picks the form."""
    kind = _kind(request.query_params.get("kind"))
    return await _channel_form(request, backends, org_context, channel=None, kind=kind)


@post(
    "/orgs/{org:str}/settings/channels",
    opt=access(Access.ADMIN, audit="notification_channel.create"),
)
async def create_channel(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
) -> Response[Any] | Template:
    """A webhook channel's signing secret is shown once, on the page this answers with."""
    form = await read_form(request)
    kind = _kind(form.get("kind"))

    def done(made: ChannelOut) -> str | Awaitable[Template]:
        if made.signing_secret is None:
            return org_url(org_context.slug, "settings", "channels", str(made.id))
        return _channel_form(
            request, backends, org_context, channel=made, signing_secret=made.signing_secret
        )

    return await submit_form(
        request,
        lambda: channels.create_channel(
            backends,
            org_context,
            ChannelIn(name=_name(form), kind=kind, config=_config(kind, form), enabled=True),  # type: ignore[arg-type]
        ),
        again=partial(
            _channel_form, request, backends, org_context, channel=None, kind=kind, values=form
        ),
        done=done,
        catch=(Invalid, Conflict),
    )


@get("/orgs/{org:str}/settings/channels/{channel_id:str}", opt=access(Access.ADMIN))
async def channel_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    channel_id: FromPath[str],
) -> Template:
    channel = await channels.get_channel(backends, org_context, channel_id)
    return await _channel_form(request, backends, org_context, channel=channel)


@post(
    "/orgs/{org:str}/settings/channels/{channel_id:str}",
    opt=access(Access.ADMIN, audit="notification_channel.update"),
)
async def update_channel(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    channel_id: FromPath[str],
) -> Response[Any] | Template:
    """The edit form (name, settings; an empty secret keeps the stored one) or, with
    `enabled=true|false` alone, the enable/disable button."""
    channel = await channels.get_channel(backends, org_context, channel_id)
    form = await read_form(request)

    def patch() -> ChannelPatch:
        if "enabled" in form and "name" not in form:
            return ChannelPatch(enabled=form["enabled"] == "true")
        return ChannelPatch(name=_name(form), config=_config(channel.kind, form))

    return await submit_form(
        request,
        lambda: channels.update_channel(backends, org_context, channel_id, patch()),
        again=partial(_channel_form, request, backends, org_context, channel=channel, values=form),
        done=org_url(org_context.slug, "settings", "channels", channel_id),
        catch=(Invalid, Conflict),
    )


@post(
    "/orgs/{org:str}/settings/channels/{channel_id:str}/test",
    opt=access(Access.ADMIN, audit="notification_channel.test"),
)
async def test_channel(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    channel_id: FromPath[str],
) -> Template:
    """Sends a test message now and shows the answer (ok, status, error)."""
    result = await channels.send_test(backends, org_context, channel_id)
    channel = await channels.get_channel(backends, org_context, channel_id)
    return await _channel_form(request, backends, org_context, channel=channel, test=result)


@post(
    "/orgs/{org:str}/settings/channels/{channel_id:str}/rotate",
    opt=access(Access.ADMIN, audit="notification_channel.rotate_secret"),
)
async def rotate_secret(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    channel_id: FromPath[str],
) -> Template:
    """A new signing secret, shown once (receivers need it before the next delivery)."""
    channel = await channels.rotate_secret(backends, org_context, channel_id)
    return await _channel_form(
        request, backends, org_context, channel=channel, signing_secret=channel.signing_secret
    )


@post(
    "/orgs/{org:str}/settings/channels/{channel_id:str}/delete",
    opt=access(Access.ADMIN, audit="notification_channel.delete"),
)
async def delete_channel(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    channel_id: FromPath[str],
) -> Response[Any] | Template:
    channel = await channels.get_channel(backends, org_context, channel_id)
    form = await request.form()
    if (form.get("confirm") or "") != channel.name:
        return await _channel_form(
            request,
            backends,
            org_context,
            channel=channel,
            errors={"confirm": "Type the channel's name to delete it."},
            status_code=422,
        )
    await channels.delete_channel(backends, org_context, channel_id)
    return see_other(request, org_url(org_context.slug, "settings", "channels"))


CHANNEL_HANDLERS = [
    channels_page,
    new_channel_page,
    create_channel,
    channel_page,
    update_channel,
    test_channel,
    rotate_secret,
    delete_channel,
]
