"""The audit trail of the API: one mechanism around every route that declares an audit action.

For such a route this middleware opens an `AuditScope` once the caller is known (after the
access middleware) and before the handler runs; services report what they change with
`record_change`.

- A PostgreSQL change (members, API keys, clusters, organizations) is recorded inside its
  transaction, and that transaction writes its audit rows as it commits
  (shared/audit/trail.py): the change and its entry exist together or not at all.
- A NATS change (streams, consumers, messages) has no transaction to share. Its entry is
  written after NATS confirmed the change and before the response leaves, so a client that
  sees the success can read the entry. If that write fails the answer is a 503
  `audit_unavailable` saying the change was made but not recorded (and the failure is
  logged): the change stands, nothing pretends it succeeded cleanly. A crash between NATS'
  answer and the write leaves the change without an entry; that window is the one accepted.

Routes without an audit action pass straight through; start-up refuses a mutating route that
has neither an action nor a stated exemption.
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
from shared.audit.changes import Actor, AuditScope, Facts
from shared.audit.trail import write_remaining

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
        ctx: OrgContext | None = state.get("org_context")
        client = scope.get("client")
        audit = AuditScope(
            facts=Facts(
                action=str(action),
                actor=_actor(state),
                org_ids=(ctx.org_id,) if ctx else (),
                ip=client[0] if client else None,
                user_agent=_header(scope, b"user-agent"),
            )
        )

        async def send_after_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                backends = scope["litestar_app"].state.backends
                try:
                    await write_remaining(backends.database, audit)
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
