"""The message browser: the stream page's Messages tab and the pages behind it.

    …/streams/{stream}?tab=messages&seek=first|last|seq|before|time&seq=&time=&tz=
        &subject=&q=&limit=                      the tab (messages_tab_context, rendered by
                                                 the stream page into stream_messages.html)
    …/streams/{stream}/messages/{seq}?format=&full=1      one message (message.html)
    …/streams/{stream}/messages/publish?from_seq=         the publish form (editor); POST
    …/streams/{stream}/messages/{seq}/delete              delete or secure erase (editor, POST)
    …/streams/{stream}/messages/export?format=ndjson|csv  the tab's filter, streamed
    …/streams/{stream}/messages/tail?subject=             live tail (SSE)

Reading goes through `shared.messages.browser` (direct gets or `MSG.GET`, never a consumer),
so WorkQueue and Interest streams are left as they were. The API's export and tail take
bearer tokens only; the console's own routes stream the same services for the session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Response, ServerSentEvent, Stream, Template
from litestar.response.sse import ServerSentEventMessage

from services.access import Access, access
from services.api.streams import NATS_DEPENDENCY
from services.sse import LIVE, keepalive, opening
from services.web.console import (
    Crumb,
    form_errors,
    prefetch_switchers,
    render,
    require_typed_name,
    see_other,
)
from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.errors import Invalid, JetDeckError, NotFound
from shared.messages import services
from shared.messages.browser import (
    DEFAULT_PAGE,
    PAGE_SIZES,
    SEARCH_SCAN,
    MessagePageView,
    Position,
    message_page,
    message_view,
    parse_position,
    to_rows,
)
from shared.messages.payloads import FORMATS, SHOWN_BYTES, json_markup
from shared.messages.reader import StreamFacts
from shared.messages.schemas import PublishIn
from shared.nats import ClusterClient
from shared.streams import services as stream_services
from shared.streams.schemas import StreamInfo

AGO = (("5m", "5 m ago"), ("1h", "1 h ago"), ("24h", "24 h ago"))
HEADER_ROWS = 3  # empty header rows the publish form has without JavaScript
TAIL_KEEP = 200  # rows the live tail keeps in the list (the page's script drops older ones)
TAIL_PER_SECOND = 20  # messages a second the tail sends; the rest are counted as skipped
_ZONELESS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def stream_url(org: str, cluster: str, stream: str) -> str:
    return f"/orgs/{org}/clusters/{cluster}/streams/{stream}"


def local_to_utc(value: str, tz: str | None) -> str:
    """A zone-less date-time from a `datetime-local` field, in the browser's zone: `tz` is
    its `getTimezoneOffset()` (minutes, UTC minus local), set by the page's script. Without it
    (no JavaScript) the time stays zone-less, which the browser service reads as UTC."""
    text = value.strip()
    if not tz or not _ZONELESS.match(text):
        return text
    try:
        offset = int(tz)
    except ValueError:
        raise Invalid(f"tz {tz!r} is not a number of minutes", code="invalid_tz") from None
    if abs(offset) > 24 * 60:
        raise Invalid("tz is at most 1440 minutes", code="invalid_tz")
    if len(text) == 16:
        text += ":00"
    moment = datetime.fromisoformat(text) + timedelta(minutes=offset)
    return moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def facts_of(info: StreamInfo) -> StreamFacts:
    """The figures a page read needs, from the STREAM.INFO the stream page has just made."""
    config, state = info.config, info.state
    return StreamFacts(
        name=str(config.get("name")),
        allow_direct=bool(config.get("allow_direct")),
        first_seq=int(state.get("first_seq") or 0),
        last_seq=int(state.get("last_seq") or 0),
        subjects=list(config.get("subjects") or []),
        messages=int(state.get("messages") or 0),
    )


@dataclass
class MessagesTab:
    """What stream_messages.html renders."""

    base: str  # the stream page's URL
    params: dict[str, str]  # the tab's current filter (subject, q, limit) for links
    subject: str
    q: str
    limit: int
    time_value: str  # what the date-time field shows
    page: MessagePageView | None
    error: str | None
    stream: str
    retention: str
    allow_direct: bool
    tail_url: str
    export_url: str
    publish_url: str
    sizes: tuple[int, ...] = PAGE_SIZES
    ago: tuple[tuple[str, str], ...] = AGO
    tail_keep: int = TAIL_KEEP
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, position: Position | None = None, **changes: Any) -> str:
        """The tab at `position` (the current one when None), with the filter kept."""
        query: dict[str, Any] = {"tab": "messages", **self.params}
        if position is None and self.page is not None:
            position = self.page.position
        if position is not None:
            query.update(position.query())
        query.update(changes)
        clean = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self.base}?{urlencode(clean)}"

    def message_url(self, seq: int) -> str:
        return f"{self.base}/messages/{seq}"

    def export(self, fmt: str) -> str:
        query: dict[str, Any] = {"format": fmt, "subject": self.subject, "q": self.q}
        if self.page is not None:
            pos = self.page.position
            if pos.seek == "seq" and pos.seq:
                query["start_seq"] = pos.seq
            elif pos.seek == "time":
                query["start_time"] = pos.time
        clean = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self.export_url}?{urlencode(clean)}"


async def messages_tab_context(
    request: Request[Any, Any, Any],
    backends: Backends,
    client: ClusterClient,
    org_context: OrgContext,
    cluster: str,
    stream_info: StreamInfo,
) -> dict[str, Any]:
    """The template context `stream_messages.html` needs (the stream page renders it in its
    Messages tab): `messages` (a `MessagesTab`). A wrong position or filter is shown in the
    tab, never an error page."""
    return await _tab_context(request, backends, client, org_context, cluster, stream_info)


async def stream_and_messages_tab(
    request: Request[Any, Any, Any],
    backends: Backends,
    client: ClusterClient,
    org_context: OrgContext,
    cluster: str,
    stream: str,
) -> tuple[StreamInfo, dict[str, Any]]:
    """The stream's INFO and the Messages tab's context, the tab's read overlapping the INFO
    request (`shared.messages.browser.message_page`'s `facts_later`): one NATS round trip
    less than asking the INFO first. An unknown stream raises as `get_stream` does."""
    info = asyncio.ensure_future(stream_services.get_stream(client, stream))
    info.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved below
    try:
        context = await _tab_context(
            request, backends, client, org_context, cluster, asyncio.shield(info), stream
        )
    finally:
        if not info.done():
            info.cancel()
    return await info, context


async def _tab_context(
    request: Request[Any, Any, Any],
    backends: Backends,
    client: ClusterClient,
    org_context: OrgContext,
    cluster: str,
    stream_info: StreamInfo | Awaitable[StreamInfo],
    name: str | None = None,
) -> dict[str, Any]:
    """The tab's context from the stream's INFO, or from its request in flight."""
    prefetch_switchers(request, backends, org_context)  # the top bar's queries overlap the read
    given: StreamInfo | None = None
    info: asyncio.Future[StreamInfo] | None = None
    if isinstance(stream_info, StreamInfo):
        given = stream_info
    else:
        info = asyncio.ensure_future(stream_info)
    stream = str(given.config.get("name")) if given is not None else name
    assert stream, "a stream's name, or its INFO"

    async def facts() -> StreamFacts:
        assert info is not None
        return facts_of(await info)

    q_params = request.query_params
    subject = (q_params.get("subject") or "").strip()
    q = q_params.get("q") or ""
    try:
        limit = int(q_params.get("limit") or DEFAULT_PAGE)
    except ValueError:
        limit = DEFAULT_PAGE
    limit = limit if limit in PAGE_SIZES else DEFAULT_PAGE
    params = {"subject": subject, "q": q, "limit": str(limit) if limit != DEFAULT_PAGE else ""}
    raw_time = q_params.get("time") or ""
    page, error = None, None
    try:
        position = parse_position(
            q_params.get("seek"),
            q_params.get("seq"),
            local_to_utc(raw_time, q_params.get("tz")) if raw_time else None,
        )
        page = await message_page(
            client,
            stream,
            position,
            subject=subject or None,
            q=q or None,
            limit=limit,
            max_scan=SEARCH_SCAN,
            facts=facts_of(given) if given is not None else None,
            facts_later=facts() if given is None else None,
            page_bytes=backends.settings.messages.page_bytes,
            batch_bytes=backends.settings.messages.batch_bytes,
        )
    except (Invalid, NotFound) as exc:
        error = str(exc.extra.get("description") or exc.detail)
    if given is None:
        assert info is not None
        given = await info  # an unknown stream raises here (the page's 404), not in the tab
    name = str(given.config.get("name"))
    base = stream_url(org_context.slug, cluster, name)
    tab = MessagesTab(
        base=base,
        params={k: v for k, v in params.items() if v},
        subject=subject,
        q=q,
        limit=limit,
        time_value=raw_time if _ZONELESS.match(raw_time.strip()) else "",
        page=page,
        error=error,
        stream=name,
        retention=str(given.config.get("retention", "limits")),
        allow_direct=bool(given.config.get("allow_direct")),
        tail_url=f"{base}/messages/tail",
        export_url=f"{base}/messages/export",
        publish_url=f"{base}/messages/publish",
    )
    return {"messages": tab}


# ---- one message ------------------------------------------------------------------------------


def _crumbs(org: str, cluster: str, stream: str, last: str) -> list[Crumb]:
    return [
        Crumb("Clusters", f"/orgs/{org}/clusters"),
        Crumb(cluster, f"/orgs/{org}/clusters/{cluster}"),
        Crumb("Streams", f"/orgs/{org}/clusters/{cluster}/streams"),
        Crumb(stream, f"{stream_url(org, cluster, stream)}?tab=messages"),
        Crumb(last),
    ]


MESSAGE_PATH = "/orgs/{org:str}/clusters/{cluster:str}/streams/{stream:str}/messages"


@get(
    MESSAGE_PATH + "/{seq:int}",
    opt=access(Access.VIEWER),
    dependencies=NATS_DEPENDENCY,
)
async def message_page_view(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    nats: NamedDependency[ClusterClient],
    cluster: FromPath[str],
    stream: FromPath[str],
    seq: FromPath[int],
    format: FromQuery[str | None] = None,
    full: FromQuery[str | None] = None,
) -> Template:
    """One message: headers, payload in a format (`?format=`, detected when absent), the
    first 64 KiB unless `?full=1`, copy buttons, republish / delete for editors."""
    view = await message_view(nats, stream, seq, fmt=format, full=full == "1")
    base = stream_url(org_context.slug, cluster, stream)
    return await render(
        request,
        backends,
        "message.html",
        org=org_context,
        section="streams",
        cluster=cluster,
        crumbs=_crumbs(org_context.slug, cluster, stream, f"Message {seq}"),
        view=view,
        base=base,
        message_url=f"{base}/messages/{seq}",
        formats=FORMATS,
        full=full == "1",
        shown_bytes=SHOWN_BYTES,
        json_markup=json_markup,
    )


# ---- publish ----------------------------------------------------------------------------------


@dataclass
class PublishForm:
    subject: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: str = ""
    encoding: str = "text"  # text, json or base64
    msg_id: str = ""


def _form_from_message(m: Any) -> PublishForm:
    headers = [
        (name, one)
        for name, value in m.headers.items()
        if name.lower() != "nats-msg-id"
        for one in (value if isinstance(value, list) else [value])
    ]
    msg_id = m.headers.get("Nats-Msg-Id") or ""
    if isinstance(msg_id, list):
        msg_id = msg_id[0] if msg_id else ""
    if m.text is not None:
        try:
            parsed = json.loads(m.text)
            return PublishForm(
                m.subject, headers, json.dumps(parsed, indent=2, ensure_ascii=False), "json", msg_id
            )
        except ValueError:
            return PublishForm(m.subject, headers, m.text, "text", msg_id)
    return PublishForm(m.subject, headers, m.data, "base64", msg_id)


async def _publish_page(
    request: Request[Any, Any, Any],
    backends: Backends,
    org_context: OrgContext,
    cluster: str,
    stream: str,
    form: PublishForm,
    *,
    errors: dict[str, str] | None = None,
    published: Any = None,
    status_code: int = 200,
    republished: int | None = None,
) -> Template:
    base = stream_url(org_context.slug, cluster, stream)
    return await render(
        request,
        backends,
        "message_publish.html",
        org=org_context,
        section="streams",
        cluster=cluster,
        crumbs=_crumbs(org_context.slug, cluster, stream, "Publish"),
        fragments=("publish_result",),
        status_code=status_code,
        stream=stream,
        base=base,
        form=form,
        header_rows=[*form.headers, *[("", "")] * max(HEADER_ROWS - len(form.headers), 1)],
        errors=errors or {},
        published=published,
        republished=republished,
    )


@get(
    MESSAGE_PATH + "/publish",
    opt=access(Access.EDITOR),
    dependencies=NATS_DEPENDENCY,
)
async def publish_form(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    nats: NamedDependency[ClusterClient],
    cluster: FromPath[str],
    stream: FromPath[str],
    from_seq: FromQuery[int | None] = None,
) -> Template:
    """The publish form; `?from_seq=N` ("republish") fills it from message N."""
    form = PublishForm()
    if from_seq is not None:
        form = _form_from_message(await services.get_message(nats, stream, from_seq))
    return await _publish_page(
        request, backends, org_context, cluster, stream, form, republished=from_seq
    )


def _read_form(data: dict[str, Any]) -> PublishForm:
    def many(key: str) -> list[str]:
        value = data.get(key, [])
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    names, values = many("header_name"), many("header_value")
    headers = [
        (n.strip(), v) for n, v in zip(names, values + [""] * len(names), strict=False) if n.strip()
    ]

    def one(key: str) -> str:
        got = many(key)
        return got[0] if got else ""

    return PublishForm(
        subject=one("subject").strip(),
        headers=headers,
        payload=one("payload"),
        encoding=one("encoding") or "text",
        msg_id=one("msg_id").strip(),
    )


def to_publish_in(form: PublishForm) -> PublishIn:
    """The API's publish body from the form: repeated header names become a list."""
    if not form.subject:
        raise Invalid("A subject is needed", code="invalid_subject", extra={"field": "subject"})
    headers: dict[str, Any] = {}
    for name, value in form.headers:
        if any(c in name for c in ": \t\r\n") or not name.isascii():
            raise Invalid(
                f"Header name {name!r} may not hold spaces or colons",
                code="invalid_header",
                extra={"field": "headers"},
            )
        if "\r" in value or "\n" in value:
            raise Invalid(
                f"Header {name!r}'s value may not hold a line break",
                code="invalid_header",
                extra={"field": "headers"},
            )
        if name in headers:
            prior = headers[name]
            headers[name] = [*prior, value] if isinstance(prior, list) else [prior, value]
        else:
            headers[name] = value
    if form.msg_id:
        headers["Nats-Msg-Id"] = form.msg_id
    text: str | None = None
    data: str | None = None
    if form.encoding == "base64":
        compact = "".join(form.payload.split())
        try:
            base64.b64decode(compact, validate=True)
        except ValueError:
            raise Invalid(
                "The payload is not valid base64",
                code="invalid_payload",
                extra={"field": "payload"},
            ) from None
        data = compact
    elif form.encoding == "json":
        try:
            json.loads(form.payload)
        except ValueError as exc:
            raise Invalid(
                f"The payload is not valid JSON: {exc}",
                code="invalid_payload",
                extra={"field": "payload"},
            ) from None
        text = form.payload
    elif form.encoding == "text":
        text = form.payload
    else:
        raise Invalid("encoding is text, json or base64", code="invalid_payload")
    return PublishIn(subject=form.subject, text=text, data=data, headers=headers or None)


@post(
    MESSAGE_PATH + "/publish",
    opt=access(Access.EDITOR, audit="message.publish"),
    dependencies=NATS_DEPENDENCY,
    status_code=200,
)
async def publish_message(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    nats: NamedDependency[ClusterClient],
    cluster: FromPath[str],
    stream: FromPath[str],
) -> Template:
    """Publish and show the answer (seq, duplicate) above the form, which keeps its values
    so the next message is one edit away."""
    form = _read_form(_multi(await request.form()))
    try:
        published = await services.publish(nats, stream, to_publish_in(form))
    except JetDeckError as exc:
        return await _publish_page(
            request,
            backends,
            org_context,
            cluster,
            stream,
            form,
            errors=form_errors(exc),
            status_code=422,
        )
    return await _publish_page(
        request, backends, org_context, cluster, stream, form, published=published
    )


def _multi(form: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        out.setdefault(key, []).append(str(value))
    return out


# ---- delete -----------------------------------------------------------------------------------


@post(
    MESSAGE_PATH + "/{seq:int}/delete",
    opt=access(Access.EDITOR, audit="message.delete"),
    dependencies=NATS_DEPENDENCY,
    status_code=303,
)
async def delete_message(
    request: Request[Any, Any, Any],
    org_context: NamedDependency[OrgContext],
    nats: NamedDependency[ClusterClient],
    cluster: FromPath[str],
    stream: FromPath[str],
    seq: FromPath[int],
) -> Response[Any]:
    """Delete (`mode=delete`) or securely erase (`mode=erase`: the payload is overwritten)
    message `seq`, once `confirm` repeats the sequence number."""
    await require_typed_name(request, str(seq), f"Type {seq} to confirm")
    erase = (await request.form()).get("mode") == "erase"
    await services.delete_message(nats, stream, seq, erase=erase)
    return see_other(request, f"{stream_url(org_context.slug, cluster, stream)}?tab=messages")


# ---- export -----------------------------------------------------------------------------------


@get(
    MESSAGE_PATH + "/export",
    opt=access(Access.VIEWER),
    dependencies=NATS_DEPENDENCY,
)
async def export_messages(
    backends: NamedDependency[Backends],
    nats: NamedDependency[ClusterClient],
    stream: FromPath[str],
    format: FromQuery[str] = "ndjson",
    start_seq: FromQuery[int | None] = None,
    start_time: FromQuery[str | None] = None,
    subject: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
) -> Stream:
    """The API's streamed export (same parameters and service) for the signed-in session: the
    API takes bearer tokens only, so the tab's export link comes here."""
    if start_seq is not None and start_seq < 1:
        raise Invalid("start_seq starts at 1", code="invalid_seq")
    chunks = await services.export(
        nats,
        stream,
        fmt=format,
        start_seq=start_seq,
        start_time=start_time,
        subject=subject or None,
        q=q or None,
        batch_bytes=backends.settings.messages.batch_bytes,
    )
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Stream(
        chunks,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{stream}.{format}"',
            "Cache-Control": "no-store",
        },
    )


# ---- live tail --------------------------------------------------------------------------------


def _row_event(message: Any, base: str) -> str:
    rows, _ = to_rows([message])
    row = asdict(rows[0])
    row["url"] = f"{base}/messages/{message.seq}"
    return json.dumps(row, ensure_ascii=False)


def _skipped(count: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps({"skipped": count}), event="skipped")


class RateCap:
    """At most `per_second` a second (a one-second window); what is over is counted."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.clock = clock
        self.window = -1.0
        self.sent = 0

    def allow(self) -> bool:
        now = self.clock()
        if self.window < 0 or now - self.window >= 1.0:
            self.window, self.sent = now, 0
        if self.sent >= self.per_second:
            return False
        self.sent += 1
        return True


@get(
    MESSAGE_PATH + "/tail",
    opt={**access(Access.VIEWER), **LIVE},
    dependencies=NATS_DEPENDENCY,
)
async def tail_messages(
    backends: NamedDependency[Backends],
    org_context: NamedDependency[OrgContext],
    nats: NamedDependency[ClusterClient],
    cluster: FromPath[str],
    stream: FromPath[str],
    subject: FromQuery[str | None] = None,
) -> ServerSentEvent:
    """New messages as rows for the tab's list, over SSE, through the shared tail service:
    events `row` (a row as JSON), `skipped` (`{"skipped": n}`: over the rate cap or fallen
    behind), `end` (`{"reason": …}`), a `: keepalive` comment after 15 s without any. The
    response begins at once, uncompressed (services/sse.py). The tail ends when the browser
    leaves (the response's generator is closed on disconnect, which closes the
    subscription)."""
    principal = org_context.principal
    sub = await backends.tails.subscribe(
        nats, stream, subject=subject or None, user=str(principal.user_id or principal.id)
    )
    base = stream_url(org_context.slug, cluster, stream)
    cap = RateCap(TAIL_PER_SECOND)
    over = 0

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        nonlocal over
        try:
            yield opening()
            yield ServerSentEventMessage(data="{}", event="ready")
            async for event in sub:
                if event.kind == "message":
                    if not cap.allow():
                        over += 1
                        if over >= TAIL_PER_SECOND:  # report now and then, not per message
                            yield _skipped(over)
                            over = 0
                        continue
                    if over:
                        yield _skipped(over)
                        over = 0
                    yield ServerSentEventMessage(data=_row_event(event.message, base), event="row")
                elif event.kind == "skipped":
                    yield _skipped(event.skipped)
                elif event.kind == "heartbeat":
                    yield keepalive()
                else:
                    yield ServerSentEventMessage(
                        data=json.dumps({"reason": event.reason}), event="end"
                    )
                    return
        finally:
            sub.close()

    return ServerSentEvent(events(), headers={"Cache-Control": "no-store"})


MESSAGE_HANDLERS = [
    publish_form,
    publish_message,
    export_messages,
    tail_messages,
    message_page_view,
    delete_message,
]
