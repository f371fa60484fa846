"""The stream page's Messages tab (owned by the message browser's engineer; this placeholder
gives the stream page its hook)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from shared.accounts.principals import OrgContext
from shared.backends import Backends
from shared.nats import ClusterClient
from shared.streams.schemas import StreamInfo


async def messages_tab_context(
    request: Request[Any, Any, Any],
    backends: Backends,
    client: ClusterClient,
    org_context: OrgContext,
    cluster: str,
    stream_info: StreamInfo,
) -> dict[str, Any]:
    """The template context `stream_messages.html` needs (the stream page renders it in its
    Messages tab)."""
    return {}
