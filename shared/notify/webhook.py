"""Generic webhooks, signed per Standard Webhooks (the `standardwebhooks` package): headers
`webhook-id` (the delivery's id, the same on every retry), `webhook-timestamp` and
`webhook-signature`; body `{type, timestamp, data}` per API.md."""

from __future__ import annotations

import base64
import json
import re
import secrets as random
from datetime import datetime
from typing import Any, ClassVar

from standardwebhooks.webhooks import Webhook

from shared.config import Settings
from shared.db.base import utcnow
from shared.errors import Invalid
from shared.notify import http
from shared.notify.base import ChannelConfig, Outgoing, SendResult, register

_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_RESERVED = {
    "host",
    "content-length",
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "transfer-encoding",
    "connection",
}


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def webhook_id(delivery_id: str) -> str:
    return f"msg_{delivery_id.replace('-', '')}"


def body_of(payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    event = payload["event"]
    data: dict[str, Any] = {
        "rule": payload["rule"],
        "alerts": payload["alerts"],
        "count": payload["count"],
        "console_url": payload["console_url"],
    }
    if payload["alerts"]:
        data = {**payload["alerts"][0], **data}  # the first alert's fields at the top
    if event == "test":
        data["channel"] = payload.get("channel")
    return {
        "type": "test" if event == "test" else f"alert.{event}",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


@register
class WebhookChannel:
    kind: ClassVar[str] = "webhook"
    secret_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "signing_secret")
    required: ClassVar[tuple[str, ...]] = ("url",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        headers = secrets.get("headers") or {}
        if not isinstance(headers, dict):
            raise Invalid(
                "config.headers: expected an object of header names to values",
                code="invalid_channel_config",
                extra={"field": "config.headers"},
            )
        for name, value in headers.items():
            if not _HEADER_NAME.match(str(name)) or str(name).lower() in _RESERVED:
                raise Invalid(
                    f"config.headers: {name!r} cannot be set",
                    code="invalid_channel_config",
                    extra={"field": "config.headers"},
                )
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise Invalid(
                    f"config.headers: the value of {name!r} must be one line of text",
                    code="invalid_channel_config",
                    extra={"field": "config.headers"},
                )

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult:
        at = utcnow()
        body = json.dumps(body_of(message.payload, at), separators=(",", ":"))
        msg_id = webhook_id(message.id)
        signature = Webhook(channel.secrets["signing_secret"]).sign(msg_id, at, body)
        headers = {
            **(channel.secrets.get("headers") or {}),
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }
        answer = await http.request(
            "POST",
            channel.secrets["url"],
            self.settings.notify,
            content=body.encode(),
            headers=headers,
        )
        http.raise_for_answer(answer, "The webhook")
        return SendResult(answer.status_code)
