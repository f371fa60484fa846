"""The JSON API router: everything under /api/v1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Router
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from services.access import (
    MUTATING_METHODS,
    ORG_LEVELS,
    Access,
    declared_access,
    is_framework_handler,
)
from services.api.alerts import AlertController, AlertRuleController, SilenceController
from services.api.api_keys import ApiKeyController
from services.api.audit_events import AuditEventController
from services.api.auth_routes import AuthController
from services.api.clusters import ClusterController
from services.api.consumers import ConsumerController
from services.api.errors import exception_handlers
from services.api.members import (
    InvitationController,
    MemberController,
    PendingInvitationController,
)
from services.api.messages import MessageController
from services.api.metrics import MetricsController
from services.api.notification_channels import NotificationChannelController
from services.api.orgs import OrgController
from services.api.streams import StreamController

API_HANDLERS: list[ControllerRouterHandler] = [
    # accounts and access
    AuthController,
    OrgController,
    MemberController,
    PendingInvitationController,
    InvitationController,
    ApiKeyController,
    AuditEventController,
    # clusters, streams, consumers, messages
    ClusterController,
    StreamController,
    ConsumerController,
    MessageController,
    # metrics history
    MetricsController,
    # alerts and notifications
    AlertRuleController,
    AlertController,
    SilenceController,
    NotificationChannelController,
]


@dataclass
class ErrorBody:
    """Every error answer (API.md, Conventions)."""

    status_code: int
    detail: str
    code: str
    extra: dict[str, Any]


STATUS_MEANINGS = {
    400: "Invalid input (also a config NATS rejects); `extra` names the field",
    401: "Not authenticated: no, expired or revoked credentials",
    403: "Not allowed: the role is too low, or an API key where a user is needed",
    404: "Not found (another organization's URLs answer 404 too)",
    409: "Exists, or conflicts with the current state",
    413: "The request body is too large",
    429: "Rate limited; `Retry-After` says when to try again",
    503: "A cluster or backing service (PostgreSQL, Redis, ClickHouse) is unreachable, or the "
    "change could not be put on the audit trail",
}


def answerable_statuses(handler: Any, path_parameters: Iterable[str]) -> set[int]:
    """Every error status a route can answer, derived from what it declares: its access
    level, whether it changes something, what its path names."""
    level = declared_access(handler)
    methods = set(handler.http_methods)
    statuses = {400, 503}
    if level != Access.PUBLIC or methods & MUTATING_METHODS:
        statuses.add(401)  # public mutations take credentials too: a password, a token
    if level in ORG_LEVELS or handler.opt.get("users_only"):
        statuses.add(403)
    if level in ORG_LEVELS or set(path_parameters) - {"org"}:
        statuses.add(404)
    if methods & MUTATING_METHODS:
        statuses |= {409, 413}
        if level == Access.PUBLIC:
            statuses.add(429)  # signing in, accepting an invitation: attempt limits
    return statuses | set(handler.opt.get("statuses", ()))


def document_statuses(app: Litestar) -> None:
    """Put every status each operation can answer in the OpenAPI document, with the error
    body, so a route added later is documented without anyone remembering to (schemathesis
    checks that every status answered is documented)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if is_framework_handler(handler):
                continue
            given = dict(handler.responses or {})
            for status in sorted(answerable_statuses(handler, route.path_parameters)):
                given.setdefault(
                    status,
                    ResponseSpec(
                        data_container=ErrorBody,
                        description=STATUS_MEANINGS.get(status, "Error"),
                        generate_examples=False,
                    ),
                )
            handler.responses = given


def api_router() -> Router:
    return Router(
        path="/api/v1", route_handlers=API_HANDLERS, exception_handlers=exception_handlers
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="JetDeck API",
        version="1",
        path="/api",
        render_plugins=[
            JsonRenderPlugin(path="/openapi.json"),
            SwaggerRenderPlugin(path="/docs"),
        ],
    )
