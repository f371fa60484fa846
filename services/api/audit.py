"""The audit trail of the API: one mechanism around every route that declares an audit action.

For such a route this middleware opens an `AuditScope` before the guard and handler run
(services report what they change with `record_change`), and when the handler answers with a
success writes the entries — before the response leaves, so a client that sees the success
can read the entry. A failed write turns the answer into a 503: a change that cannot be put on
the record is not reported as done. Routes without an audit action pass straight through;
start-up refuses a mutating route that has neither an action nor a stated exemption.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from shared.accounts.principals import OrgContext, Principal
from shared.audit.changes import Actor, AuditScope
from shared.audit.trail import RequestFacts, write_scope

log = logging.getLogger("jetdeck.audit")


def _actor(state: dict[str, Any]) -> Actor:
    principal: Principal | None = state.get("principal")
    if principal is None:
        return Actor("anonymous", None, "")
    return Actor(principal.kind, principal.id, principal.label)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def audit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        action = handler.opt.get("audit") if handler is not None else None
        if scope["type"] != "http" or not action:
            await app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        audit = AuditScope()

        async def send_after_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                ctx: OrgContext | None = state.get("org_context")
                client = scope.get("client")
                facts = RequestFacts(
                    action=str(action),
                    ip=client[0] if client else None,
                    user_agent=_header(scope, b"user-agent"),
                )
                backends = scope["litestar_app"].state.backends
                try:
                    await write_scope(
                        backends.database, audit, _actor(state), ctx.org_id if ctx else None, facts
                    )
                except Exception:
                    log.exception("could not write the audit trail for %s", action)
                    start: HTTPResponseStartEvent = {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"application/json")],
                    }
                    await send(start)
                    body: HTTPResponseBodyEvent = {
                        "type": "http.response.body",
                        "body": b'{"status_code":503,"detail":"The change was made but could '
                        b'not be recorded in the audit trail.","code":"audit_unavailable",'
                        b'"extra":{}}',
                        "more_body": False,
                    }
                    await send(body)
                    state["audit_failed"] = True
                    return
            if state.get("audit_failed"):
                return
            await send(message)

        with audit:
            await app(scope, receive, send_after_recording)

    return middleware
