"""The JSON API router: everything under /api/v1."""

from __future__ import annotations

from litestar import Router
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from services.api.alerts import AlertController, AlertRuleController, SilenceController
from services.api.api_keys import ApiKeyController
from services.api.audit_events import AuditEventController
from services.api.auth_routes import AuthController
from services.api.clusters import ClusterController
from services.api.consumers import ConsumerController
from services.api.errors import exception_handlers
from services.api.members import InvitationController, MemberController
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
