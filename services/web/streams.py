"""Streams and consumers in the console.

    /orgs/{org}/clusters/{cluster}/streams                  list (?search=&sort=&page=)
    /orgs/{org}/clusters/{cluster}/new-stream               create form (form | raw JSON)
    /orgs/{org}/clusters/{cluster}/streams/{stream}  ?tab=overview|consumers|config|messages
                                                     (consumers: ?search=&sort=&page=)
        …/config/review  dry-run diff     …/config         apply the reviewed config
        …/purge/preview  what it removes  …/purge          purge
        …/seal  …/delete (typed name)     …/new-consumer   consumer create form
    /orgs/{org}/clusters/{cluster}/streams/{stream}/consumers/{consumer}
        …/edit/review  …/edit  …/pause (until / resume)  …/delete

The stream page's tab content is the `stream_tab` block (a tab link swaps only it and pushes
the URL). Blocks other branches fill: `stream_charts` (Overview) and `consumer_charts`
(consumer page) for the charts; the Messages tab includes `stream_messages.html` with the
context of `services.web.messages.messages_tab_context`.

Forms carry a hidden `mode` (`form` or `json`) naming the tab that was submitted; a tab
button posts `switch=json|form` to the form's unaudited `…/form` (or `…/review`) route and
the same form comes back with the other tab filled from the same config
(services/web/config_forms.py), so the two round-trip with or without JavaScript. Steps that
change nothing (a tab switch, a dry run, a purge preview) are `audit_exempt`; only the final
POST is an audited mutation. A NATS refusal comes back beside the field it concerns (422),
with what was typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.access import Access, access
from services.web import config_forms as cf
from services.web import messages
from services.web.console import (
    Crumb,
    form_errors,
    org_url,
    page_exists,
    prefetch_switchers,
    read_form,
    render,
    require_typed_name,
    see_other,
)
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.clusters.services import cluster_client
from shared.errors import Invalid, JetDeckError
from shared.nats import ClusterClient
from shared.streams import consumers, services
from shared.streams.names import check_names
from shared.streams.schemas import Change, PurgeIn, StreamInfo, StreamSummary

EXEMPT = "shows a form, a preview or a dry run; changes nothing"
TABS = ("overview", "consumers", "config", "messages")
PAGE_SIZE = 50
SORTS = ("name", "messages", "bytes", "consumers", "last_ts", "created")
PURGE_KINDS = ("all", "subject", "keep", "seq")


async def nats_client(
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
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


def _crumbs(
    request: Request[Any, Any, Any], org: OrgContext, cluster: str, *more: Crumb
) -> list[Crumb]:
    cluster_page = org_url(org.slug, "clusters", cluster)
    return [
        Crumb(
            cluster,
            cluster_page if page_exists(request, "/orgs/{org}/clusters/{cluster}") else None,
        ),
        Crumb("Streams", stream_url(org, cluster)),
        *more,
    ]


# ---- the list ----------------------------------------------------------------------------


@dataclass
class StreamRow:
    summary: StreamSummary
    max_msgs: int
    max_bytes: int
    max_consumers: int
    last_at: datetime | None
    mirror: str | None
    sources: int


def stream_row(summary: StreamSummary, info: dict[str, Any]) -> StreamRow:
    config = info.get("config") or {}
    return StreamRow(
        summary=summary,
        max_msgs=int(config.get("max_msgs") or -1),
        max_bytes=int(config.get("max_bytes") or -1),
        max_consumers=int(config.get("max_consumers") or -1),
        last_at=cf.parse_nats_time(summary.last_ts),
        mirror=(config.get("mirror") or {}).get("name"),
        sources=len(config.get("sources") or []),
    )


@get("/orgs/{org:str}/clusters/{cluster:str}/streams", opt=access(Access.VIEWER))
async def streams_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    search: FromQuery[str | None] = None,
    sort: FromQuery[str] = "name",
    page: FromQuery[int] = 1,
) -> Template:
    """The cluster's streams: search (a name or subject part, or a NATS subject filter with
    `.`, `*` or `>`), sort and page in the URL; one page rendered, figures refreshed live."""
    sort = sort if sort.lstrip("-") in SORTS else "name"
    search = (search or "").strip() or None
    client = await nats_client(backends, org_context, cluster)
    page = max(1, page)
    rows, total = await services.list_stream_infos(
        client, search=search, sort=sort, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the end (streams went away): the last page
        page = pages
        rows, total = await services.list_stream_infos(
            client, search=search, sort=sort, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    return await render(
        request,
        backends,
        "streams.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=[*_crumbs(request, org_context, cluster)[:1], Crumb("Streams")],
        fragments=("streams_table",),
        rows=[stream_row(s, info) for s, info in rows],
        total=total,
        page=page,
        pages=pages,
        search=search or "",
        sort=sort,
        list_url=stream_url(org_context, cluster),
        new_url=org_url(org_context.slug, "clusters", cluster, "new-stream"),
    )


# ---- create ------------------------------------------------------------------------------


def _stream_form_context(
    *,
    action: str,
    mode: str,
    values: dict[str, str],
    json_text: str,
    errors: dict[str, str],
    editing: bool,
    changes: list[Change] | None = None,
    apply_json: str | None = None,
    switch_action: str | None = None,
    apply_action: str | None = None,
) -> dict[str, Any]:
    """A config form's context: `action` takes the submit, `switch_action` the tab buttons
    (no audit: it changes nothing), `apply_action` the reviewed config's Apply."""
    return {
        "form_action": action,
        "switch_action": switch_action or action,
        "apply_action": apply_action or action,
        "mode": mode if mode in ("form", "json") else "form",
        "values": values,
        "json_text": json_text,
        "errors": errors,
        "editing": editing,
        "changes": changes,
        "blocked": [c for c in changes or [] if not c.updatable],
        "apply_json": apply_json,
    }


@dataclass(frozen=True)
class ConfigKind:
    """What the stream and the consumer config forms differ in."""

    from_form: Callable[[dict[str, str]], tuple[dict[str, Any], dict[str, str]]]
    form_values: Callable[[dict[str, Any]], dict[str, str]]
    fields: set[str]  # the form's fields (a NATS refusal naming one shows beside it)
    nats_fields: dict[int, str]
    clearable: tuple[str, ...]  # emptied in the form: removed from the config

    def read(self, posted: dict[str, str]) -> tuple[dict[str, Any], dict[str, str], str]:
        """The config the submitted tab holds, its errors, and that tab."""
        if posted.get("mode", "form") == "json":
            config, errors = cf.config_from_json(posted.get("json", ""))
            return config, errors, "json"
        config, errors = self.from_form(posted)
        return config, errors, "form"

    def views(
        self, posted: dict[str, str], config: dict[str, Any], mode: str, errors: dict[str, str]
    ) -> tuple[dict[str, str], str]:
        """The form's values and the JSON text to show: what was typed in the submitted tab,
        the other one filled from its config (unless it could not be read)."""
        if mode == "json":
            return self.form_values(config if not errors else {}), posted.get("json", "")
        return posted, cf.config_json(config)

    def nats_errors(self, exc: JetDeckError, mode: str) -> dict[str, str]:
        errors = cf.field_for(form_errors(exc, self.nats_fields), self.fields)
        if mode == "json":  # the JSON tab has one field: NATS' description goes beside it
            return {"json": next(iter(errors.values()))}
        return errors


STREAM_FIELDS = {
    "name", "description", "subjects", "retention", "storage", "num_replicas", "max_msgs",
    "max_bytes", "max_age", "max_msg_size", "max_msgs_per_subject", "max_consumers", "discard",
    "duplicate_window", "mirror_name", "sources", "republish_dest", "transform_dest",
    "metadata", "allow_msg_ttl",
}  # fmt: skip
CONSUMER_FIELDS = {
    "name", "description", "deliver_subject", "deliver_group", "filter_subjects", "ack_policy",
    "deliver_policy", "opt_start_seq", "opt_start_time", "replay_policy", "ack_wait",
    "max_deliver", "backoff", "max_ack_pending", "max_waiting", "inactive_threshold",
    "pause_until", "num_replicas", "metadata",
}  # fmt: skip
STREAM = ConfigKind(
    from_form=cf.stream_config_from_form, form_values=cf.stream_form_values,
    fields=STREAM_FIELDS, nats_fields=cf.STREAM_NATS_FIELDS, clearable=cf.STREAM_CLEARABLE,
)  # fmt: skip
CONSUMER = ConfigKind(
    from_form=cf.consumer_config_from_form, form_values=cf.consumer_form_values,
    fields=CONSUMER_FIELDS, nats_fields=cf.CONSUMER_NATS_FIELDS, clearable=cf.CONSUMER_CLEARABLE,
)  # fmt: skip
# The page of a config form: called with `form=` (its context) and `status_code=`.
RenderForm = Callable[..., Awaitable[Template]]


async def _create_config(
    request: Request[Any, Any, Any],
    kind: ConfigKind,
    posted: dict[str, str],
    *,
    action: str,
    switching: bool,
    client: ClusterClient | Callable[[], Awaitable[ClusterClient]],
    create: Callable[[ClusterClient, dict[str, Any]], Awaitable[str]],
    render_form: RenderForm,
) -> Response[Any] | Template:
    """A create form's POST: with `switching` the other tab (`switch`) filled from the same
    config; else `create` (it gives the new page's URL), or the form again with NATS'
    refusal. `client`: a cluster client, or how to get one once the config reads well (a
    tab switch or a form error needs no NATS)."""
    config, errors, mode = kind.read(posted)
    switch = (posted.get("switch") or mode) if switching else None
    form = partial(_stream_form_context, action=action, switch_action=action + "/form")
    if switch in ("form", "json") and not errors:
        values, json_text = kind.form_values(config), cf.config_json(config)
        context = form(mode=switch, values=values, json_text=json_text, errors={}, editing=False)
        return await render_form(form=context, status_code=200)
    if not errors:
        connected = client if isinstance(client, ClusterClient) else await client()
        try:
            return see_other(request, await create(connected, config))
        except JetDeckError as exc:
            errors = kind.nats_errors(exc, mode)
    values, json_text = kind.views(posted, config, mode, errors)
    context = form(mode=mode, values=values, json_text=json_text, errors=errors, editing=False)
    return await render_form(form=context, status_code=422)


async def _edit_config(
    request: Request[Any, Any, Any],
    kind: ConfigKind,
    posted: dict[str, str],
    current: dict[str, Any],
    *,
    confirmed: bool,
    action: str,
    apply_action: str,
    preview: Callable[[dict[str, Any]], Awaitable[list[Change]]],
    update: Callable[[dict[str, Any]], Awaitable[Any]],
    done: str,
    render_form: RenderForm,
) -> Response[Any] | Template:
    """An edit form's POST. Step one (`action`): the dry-run diff `preview` gives, or with
    `switch` the other tab of the same config; step two (`confirmed`, `apply_action`):
    `update` with the reviewed config (`apply`), then to `done`. A refusal comes back
    beside its field."""
    if confirmed and not posted.get("apply"):
        raise Invalid("Review the changes before applying them", code="invalid_config")
    if confirmed:
        config, errors = cf.config_from_json(posted["apply"])
        mode = "json"
        posted = {"mode": "json", "json": cf.config_json({**current, **config})}
    else:
        config, errors, mode = kind.read(posted)
        if mode == "form":
            for key in kind.clearable:
                config.setdefault(key, None)
            config = cf.keep_system_metadata(config, current)
    switch = None if confirmed else posted.get("switch")
    merged = {k: v for k, v in {**current, **config}.items() if v is not None}
    form = partial(_stream_form_context, action=action, apply_action=apply_action, editing=True)
    if switch in ("form", "json") and not errors:
        values, json_text = kind.form_values(merged), cf.config_json(merged)
        context = form(mode=switch, values=values, json_text=json_text, errors={})
        return await render_form(form=context, status_code=200)
    changes: list[Change] | None = None
    apply_json = None
    status = 422
    if not errors:
        try:
            if confirmed:
                await update(config)
                return see_other(request, done)
            changes = await preview(config)
            apply_json, status = json.dumps(config), 200
        except JetDeckError as exc:
            errors = kind.nats_errors(exc, mode)
    values, json_text = kind.views(posted, merged, mode, errors)
    context = form(
        mode=mode, values=values, json_text=json_text, errors=errors, changes=changes,
        apply_json=apply_json,
    )  # fmt: skip
    return await render_form(form=context, status_code=status)


@get("/orgs/{org:str}/clusters/{cluster:str}/new-stream", opt=access(Access.EDITOR))
async def new_stream_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    mode: FromQuery[str] = "form",
) -> Template:
    """The create form: fields for what users set, and NATS' raw JSON."""
    await nats_client(backends, org_context, cluster)  # 404 for an unknown cluster
    start: dict[str, Any] = {"name": "", "subjects": [], "storage": "file", "num_replicas": 1}
    return await _render_new_stream(
        request,
        backends,
        org_context,
        cluster,
        _stream_form_context(
            action=org_url(org_context.slug, "clusters", cluster, "new-stream"),
            switch_action=org_url(org_context.slug, "clusters", cluster, "new-stream", "form"),
            mode=mode,
            values=cf.stream_form_values(start),
            json_text=cf.config_json({"name": "", "subjects": [], "storage": "file"}),
            errors={},
            editing=False,
        ),
    )


async def _render_new_stream(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    form: dict[str, Any],
    status_code: int = 200,
) -> Template:
    return await render(
        request,
        backends,
        "stream_new.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=_crumbs(request, org_context, cluster, Crumb("New stream")),
        fragments=("stream_form",),
        status_code=status_code,
        **form,
    )


async def _create_stream(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    switching: bool,
) -> Response[Any] | Template:
    async def create(client: ClusterClient, config: dict[str, Any]) -> str:
        info = await services.create_stream(client, config)
        return stream_url(org_context, cluster, info.config["name"])

    return await _create_config(
        request,
        STREAM,
        await read_form(request),
        action=org_url(org_context.slug, "clusters", cluster, "new-stream"),
        switching=switching,
        client=partial(nats_client, backends, org_context, cluster),
        create=create,
        render_form=partial(_render_new_stream, request, backends, org_context, cluster),
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/new-stream",
    opt=access(Access.EDITOR, audit="stream.create"),
)
async def create_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
) -> Response[Any] | Template:
    """Create the stream the submitted tab describes."""
    return await _create_stream(request, backends, org_context, cluster, switching=False)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/new-stream/form",
    opt=access(Access.EDITOR, audit_exempt=EXEMPT),
)
async def switch_new_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
) -> Response[Any] | Template:
    """The create form with the other tab (`switch`) filled from the same config."""
    return await _create_stream(request, backends, org_context, cluster, switching=True)


# ---- the stream page ---------------------------------------------------------------------


@dataclass
class Lag:
    name: str
    kind: str  # mirror | source
    lag: int
    active_ns: int | None
    error: str | None


def _lags(info: StreamInfo) -> list[Lag]:
    found = []
    mirror = info.extra.get("mirror")
    if mirror:
        found.append(
            Lag(mirror.get("name", ""), "mirror", int(mirror.get("lag") or 0),
                mirror.get("active"), (mirror.get("error") or {}).get("description"))
        )  # fmt: skip
    for source in info.extra.get("sources") or []:
        found.append(
            Lag(source.get("name", ""), "source", int(source.get("lag") or 0),
                source.get("active"), (source.get("error") or {}).get("description"))
        )  # fmt: skip
    return found


def _limits(info: StreamInfo) -> list[tuple[str, int, int, str]]:
    """(label, used, limit, unit) for each limit of the stream (limit -1/0: none)."""
    config, state = info.config, info.state
    return [
        ("Messages", int(state.get("messages") or 0), int(config.get("max_msgs") or -1), "number"),
        ("Bytes", int(state.get("bytes") or 0), int(config.get("max_bytes") or -1), "bytes"),
        ("Consumers", int(state.get("consumer_count") or 0),
         int(config.get("max_consumers") or -1), "number"),
    ]  # fmt: skip


def _consumer_row(info: dict[str, Any]) -> dict[str, Any]:
    config = info.get("config") or {}
    filters = config.get("filter_subjects") or (
        [config["filter_subject"]] if config.get("filter_subject") else []
    )
    delivered = info.get("delivered") or {}
    last = cf.parse_nats_time(delivered.get("last_active")) or cf.parse_nats_time(
        (info.get("ack_floor") or {}).get("last_active")
    )
    return {
        "name": info.get("name", ""),
        "filters": filters,
        "ack_policy": config.get("ack_policy", ""),
        "deliver_policy": config.get("deliver_policy", ""),
        "push": bool(config.get("deliver_subject")),
        "pending": int(info.get("num_pending") or 0),
        "ack_pending": int(info.get("num_ack_pending") or 0),
        "redelivered": int(info.get("num_redelivered") or 0),
        "waiting": int(info.get("num_waiting") or 0),
        "last_active": last,
        "paused": bool(info.get("paused")),
        "pause_until": cf.parse_nats_time(config.get("pause_until")),
    }


async def _consumers_tab(
    request: Request[Any, Any, Any], client: ClusterClient, stream: str
) -> dict[str, Any]:
    """The Consumers tab's page of rows: `?search=` (a part of a name or filter subject),
    `?sort=` (a `consumers.SORTS` key, `-` for descending) and `?page=` (of `PAGE_SIZE`), as
    the streams list; a page past the end shows the last one."""
    params = request.query_params
    search = (params.get("search") or "").strip()[:200]
    sort = params.get("sort") or "name"
    sort = sort if sort.removeprefix("-") in consumers.SORTS else "name"
    raw_page = params.get("page") or "1"
    page = max(1, int(raw_page)) if raw_page.isdigit() and len(raw_page) < 9 else 1
    found, total = await consumers.list_consumers(
        client, stream, search=search or None, sort=sort,
        offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
    )  # fmt: skip
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the end (consumers went away): the last page
        page = pages
        found, total = await consumers.list_consumers(
            client, stream, search=search or None, sort=sort,
            offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
        )  # fmt: skip
    return {
        "consumer_rows": [_consumer_row(c) for c in found],
        "consumer_total": total,
        "consumer_search": search,
        "consumer_sort": sort,
        "consumer_page": page,
        "consumer_pages": pages,
    }


async def _render_stream(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    client: ClusterClient,
    info: StreamInfo,
    tab: str,
    *,
    form: dict[str, Any] | None = None,
    purge: dict[str, Any] | None = None,
    status_code: int = 200,
    fragments: tuple[str, ...] = ("stream_tab", "stream_state", "consumers_table"),
    context: dict[str, Any] | None = None,
) -> Template:
    """The stream page; `context`: the tab's own, when the caller has made it."""
    stream = str(info.config.get("name"))
    made = context is not None
    context = dict(context or {})
    if made:
        pass  # the caller made the tab's context (the Messages tab, beside the INFO request)
    elif tab == "consumers":
        context.update(await _consumers_tab(request, client, stream))
    elif tab == "messages":
        context.update(
            await messages.messages_tab_context(
                request, backends, client, org_context, cluster, info
            )
        )
    elif tab == "config" and form is None:
        form = _stream_form_context(
            action=stream_url(org_context, cluster, stream, "config", "review"),
            apply_action=stream_url(org_context, cluster, stream, "config"),
            mode=request.query_params.get("mode", "form"),
            values=cf.stream_form_values(info.config),
            json_text=cf.config_json(info.config),
            errors={},
            editing=True,
        )
    purged = request.query_params.get("purged")
    return await render(
        request,
        backends,
        "stream.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=_crumbs(request, org_context, cluster, Crumb(stream)),
        fragments=fragments,
        status_code=status_code,
        tab=tab,
        tabs=TABS,
        stream=info,
        stream_name=stream,
        stream_path=stream_url(org_context, cluster, stream),
        created_at=cf.parse_nats_time(info.created),
        last_at=cf.parse_nats_time(info.state.get("last_ts"))
        if info.state.get("last_seq")
        else None,
        limits=_limits(info),
        lags=_lags(info),
        purge=purge or {"kind": "all", "values": {}},
        purged=int(purged) if purged and purged.isdigit() else None,
        **(form or {}),
        **context,
    )


@get("/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}", opt=access(Access.VIEWER))
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
    # The top bar's queries run while the cluster is looked up and NATS answers.
    prefetch_switchers(request, backends, org_context)
    client = await nats_client(backends, org_context, cluster, stream)
    if tab == "messages":  # the tab's read goes out beside the INFO request, not after it
        info, context = await messages.stream_and_messages_tab(
            request, backends, client, org_context, cluster, stream
        )
        return await _render_stream(
            request, backends, org_context, cluster, client, info, tab, context=context
        )
    info = await services.get_stream(client, stream)
    return await _render_stream(request, backends, org_context, cluster, client, info, tab)


async def _edit_stream(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    confirmed: bool,
) -> Response[Any] | Template:
    client = await nats_client(backends, org_context, cluster, stream)
    posted = await read_form(request)
    info = await services.get_stream(client, stream)
    render_form = partial(
        _render_stream, request, backends, org_context, cluster, client, info, "config",
        fragments=("stream_tab", "stream_form"),
    )  # fmt: skip

    async def preview(config: dict[str, Any]) -> list[Change]:
        return (await services.update_stream(client, stream, config, dry_run=True)).changes

    return await _edit_config(
        request,
        STREAM,
        posted,
        info.config,
        confirmed=confirmed,
        action=stream_url(org_context, cluster, stream, "config", "review"),
        apply_action=stream_url(org_context, cluster, stream, "config"),
        preview=preview,
        update=partial(services.update_stream, client, stream),
        done=stream_url(org_context, cluster, stream) + "?tab=config",
        render_form=render_form,
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/config/review",
    opt=access(Access.EDITOR, audit_exempt=EXEMPT),
)
async def review_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """Save, step one: the API's dry-run diff (what changes, what NATS cannot change), or
    with `switch` the other tab of the same config."""
    return await _edit_stream(request, backends, org_context, cluster, stream, confirmed=False)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/config",
    opt=access(Access.EDITOR, audit="stream.update"),
)
async def update_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """Save, step two: apply the reviewed config (`apply`)."""
    return await _edit_stream(request, backends, org_context, cluster, stream, confirmed=True)


def _purge_in(posted: dict[str, str]) -> tuple[PurgeIn, str, dict[str, str]]:
    kind = posted.get("kind", "all")
    kind = kind if kind in PURGE_KINDS else "all"
    reader = cf.Reader(posted)
    subject = reader.text("subject") or None
    keep = reader.integer("keep", None, 1) if kind == "keep" else None
    seq = reader.integer("seq", None, 1) if kind == "seq" else None
    if kind == "subject" and not subject:
        reader.errors["subject"] = "the subject (or wildcard) to purge"
    if kind == "keep" and not keep:
        reader.errors.setdefault("keep", "how many of the newest messages to keep")
    if kind == "seq" and not seq:
        reader.errors.setdefault("seq", "the sequence below which to purge")
    purge = PurgeIn(subject=subject if kind != "all" else None, keep=keep, seq=seq)
    return purge, kind, reader.errors


async def _purge(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    confirmed: bool,
) -> Response[Any] | Template:
    client = await nats_client(backends, org_context, cluster, stream)
    posted = await read_form(request)
    purge, kind, errors = _purge_in(posted)
    preview: tuple[int, bool] | None = None
    status = 422
    if not errors:
        try:
            if confirmed:
                removed = await services.purge_stream(client, stream, purge)
                return see_other(
                    request, stream_url(org_context, cluster, stream) + f"?purged={removed}"
                )
            preview = await services.purge_preview(client, stream, purge)
            status = 200
        except JetDeckError as exc:
            errors = form_errors(exc)
    info = await services.get_stream(client, stream)
    state = {"kind": kind, "values": posted, "errors": errors, "preview": preview}
    return await _render_stream(
        request, backends, org_context, cluster, client, info, "overview", purge=state,
        status_code=status, fragments=("stream_actions", "stream_tab"),
    )  # fmt: skip


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/purge/preview",
    opt=access(Access.EDITOR, audit_exempt=EXEMPT),
)
async def preview_purge(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """Purge, step one: how many messages it removes."""
    return await _purge(request, backends, org_context, cluster, stream, confirmed=False)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/purge",
    opt=access(Access.EDITOR, audit="stream.purge"),
)
async def purge_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """Purge, step two: purge (all, a subject, all but N, below a sequence)."""
    return await _purge(request, backends, org_context, cluster, stream, confirmed=True)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/seal",
    opt=access(Access.EDITOR, audit="stream.update"),
)
async def seal_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any]:
    """Seal: no more messages, deletes or purges; for good."""
    client = await nats_client(backends, org_context, cluster, stream)
    await require_typed_name(request, stream, "Type the stream's name to seal it")
    await services.update_stream(client, stream, {"sealed": True})
    return see_other(request, stream_url(org_context, cluster, stream))


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/delete",
    opt=access(Access.EDITOR, audit="stream.delete"),
)
async def delete_stream(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any]:
    """Delete with the stream's name typed as confirmation."""
    client = await nats_client(backends, org_context, cluster, stream)
    await require_typed_name(request, stream, "Type the stream's name to delete it")
    await services.delete_stream(client, stream)
    return see_other(request, stream_url(org_context, cluster))


# ---- consumers ---------------------------------------------------------------------------


async def _render_new_consumer(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    form: dict[str, Any],
    status_code: int = 200,
) -> Template:
    return await render(
        request,
        backends,
        "consumer_new.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=_crumbs(
            request,
            org_context,
            cluster,
            Crumb(stream, stream_url(org_context, cluster, stream) + "?tab=consumers"),
            Crumb("New consumer"),
        ),
        fragments=("consumer_form",),
        status_code=status_code,
        stream_name=stream,
        **form,
    )


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/new-consumer",
    opt=access(Access.EDITOR),
)
async def new_consumer_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    mode: FromQuery[str] = "form",
) -> Template:
    """The consumer create form: fields and NATS' raw JSON."""
    client = await nats_client(backends, org_context, cluster, stream)
    await services.get_stream(client, stream)  # 404 for an unknown stream
    start = {"durable_name": "", "ack_policy": "explicit", "deliver_policy": "all"}
    return await _render_new_consumer(
        request,
        backends,
        org_context,
        cluster,
        stream,
        _stream_form_context(
            action=stream_url(org_context, cluster, stream, "new-consumer"),
            switch_action=stream_url(org_context, cluster, stream, "new-consumer", "form"),
            mode=mode,
            values=cf.consumer_form_values({}),
            json_text=cf.config_json(start),
            errors={},
            editing=False,
        ),
    )


async def _create_consumer(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    switching: bool,
) -> Response[Any] | Template:
    client = await nats_client(backends, org_context, cluster, stream)

    async def create(client: ClusterClient, config: dict[str, Any]) -> str:
        info = await consumers.create_consumer(client, stream, config)
        return stream_url(org_context, cluster, stream, "consumers", info["name"])

    return await _create_config(
        request,
        CONSUMER,
        await read_form(request),
        action=stream_url(org_context, cluster, stream, "new-consumer"),
        switching=switching,
        client=client,
        create=create,
        render_form=partial(_render_new_consumer, request, backends, org_context, cluster, stream),
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/new-consumer",
    opt=access(Access.EDITOR, audit="consumer.create"),
)
async def create_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """Create the consumer the submitted tab describes."""
    return await _create_consumer(request, backends, org_context, cluster, stream, switching=False)


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/new-consumer/form",
    opt=access(Access.EDITOR, audit_exempt=EXEMPT),
)
async def switch_new_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Response[Any] | Template:
    """The consumer create form with the other tab filled from the same config."""
    return await _create_consumer(request, backends, org_context, cluster, stream, switching=True)


async def _render_consumer(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    info: dict[str, Any],
    *,
    form: dict[str, Any] | None = None,
    pause_error: str | None = None,
    status_code: int = 200,
    fragments: tuple[str, ...] = ("consumer_live", "consumer_form"),
) -> Template:
    name = str(info.get("name"))
    base = stream_url(org_context, cluster, stream, "consumers", name)
    if form is None:
        form = _stream_form_context(
            action=base + "/edit/review",
            apply_action=base + "/edit",
            mode=request.query_params.get("mode", "form"),
            values=cf.consumer_form_values(info.get("config") or {}),
            json_text=cf.config_json(info.get("config") or {}),
            errors={},
            editing=True,
        )
    return await render(
        request,
        backends,
        "consumer.html",
        org=org_context,
        cluster=cluster,
        section="streams",
        crumbs=_crumbs(
            request,
            org_context,
            cluster,
            Crumb(stream, stream_url(org_context, cluster, stream) + "?tab=consumers"),
            Crumb(name),
        ),
        fragments=fragments,
        status_code=status_code,
        stream_name=stream,
        stream_path=stream_url(org_context, cluster, stream),
        consumer_path=base,
        consumer=info,
        row=_consumer_row(info),
        created_at=cf.parse_nats_time(info.get("created")),
        pause_error=pause_error,
        **form,
    )


@get(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}",
    opt=access(Access.VIEWER),
)
async def consumer_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Template:
    """One consumer: state, config, pause/resume, edit with the dry-run diff, delete."""
    prefetch_switchers(request, backends, org_context)  # overlaps the lookups below
    client = await nats_client(backends, org_context, cluster, stream, consumer)
    info = await consumers.get_consumer(client, stream, consumer)
    return await _render_consumer(request, backends, org_context, cluster, stream, info)


async def _edit_consumer(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    consumer: str,
    confirmed: bool,
) -> Response[Any] | Template:
    client = await nats_client(backends, org_context, cluster, stream, consumer)
    info = await consumers.get_consumer(client, stream, consumer)
    base = stream_url(org_context, cluster, stream, "consumers", consumer)
    render_form = partial(
        _render_consumer, request, backends, org_context, cluster, stream, info,
        fragments=("consumer_form",),
    )  # fmt: skip
    return await _edit_config(
        request,
        CONSUMER,
        await read_form(request),
        info.get("config") or {},
        confirmed=confirmed,
        action=base + "/edit/review",
        apply_action=base + "/edit",
        preview=partial(consumers.preview_consumer_update, client, stream, consumer),
        update=partial(consumers.update_consumer, client, stream, consumer),
        done=base,
        render_form=render_form,
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}"
    "/edit/review",
    opt=access(Access.EDITOR, audit_exempt=EXEMPT),
)
async def review_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Response[Any] | Template:
    """Save, step one: the dry-run diff (or the other tab with `switch`)."""
    return await _edit_consumer(
        request, backends, org_context, cluster, stream, consumer, confirmed=False
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}/edit",
    opt=access(Access.EDITOR, audit="consumer.update"),
)
async def update_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Response[Any] | Template:
    """Save, step two: apply the reviewed config (`apply`)."""
    return await _edit_consumer(
        request, backends, org_context, cluster, stream, consumer, confirmed=True
    )


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}/pause",
    opt=access(Access.EDITOR, audit="consumer.pause"),
)
async def pause_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Response[Any] | Template:
    """Pause until a time (UTC), or resume (`resume`)."""
    client = await nats_client(backends, org_context, cluster, stream, consumer)
    posted = await read_form(request)
    base = stream_url(org_context, cluster, stream, "consumers", consumer)
    reader = cf.Reader(posted)
    until = None if posted.get("resume") else reader.time("until")
    if not posted.get("resume") and until is None:
        reader.errors.setdefault("until", "the date and time (UTC) to pause until")
    if not reader.errors:
        try:
            await consumers.pause_consumer(client, stream, consumer, until)
        except JetDeckError as exc:
            reader.errors["until"] = str(exc.extra.get("description") or exc.detail)
        else:
            return see_other(request, base)
    info = await consumers.get_consumer(client, stream, consumer)
    return await _render_consumer(
        request, backends, org_context, cluster, stream, info,
        pause_error=reader.errors.get("until"), status_code=422, fragments=("consumer_live",),
    )  # fmt: skip


@post(
    "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/consumers/{consumer:str}/delete",
    opt=access(Access.EDITOR, audit="consumer.delete"),
)
async def delete_consumer(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    cluster: FromPath[str],
    stream: FromPath[str],
    consumer: FromPath[str],
) -> Response[Any]:
    client = await nats_client(backends, org_context, cluster, stream, consumer)
    await require_typed_name(request, consumer, "Type the consumer's name to delete it")
    await consumers.delete_consumer(client, stream, consumer)
    return see_other(request, stream_url(org_context, cluster, stream) + "?tab=consumers")


HANDLERS = [
    streams_page,
    new_stream_page,
    create_stream,
    switch_new_stream,
    stream_page,
    review_stream,
    update_stream,
    preview_purge,
    purge_stream,
    seal_stream,
    delete_stream,
    new_consumer_page,
    create_consumer,
    switch_new_consumer,
    consumer_page,
    review_consumer,
    update_consumer,
    pause_consumer,
    delete_consumer,
]
