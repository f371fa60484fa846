"""Telegram Bot API `sendMessage` (HTML). The API base is `JETDECK_NOTIFY_TELEGRAM_API_URL`.
A bot that was blocked or removed from the chat (403) or a wrong chat (400) is permanent;
429 waits the `retry_after` Telegram names."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

from shared.config import Settings
from shared.errors import Invalid
from shared.notify import http
from shared.notify.base import ChannelConfig, DeliveryError, Outgoing, SendResult, register
from shared.notify.message import text_lines, title

_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
TEXT_LIMIT = 4000  # Telegram's limit is 4096 characters


@register
class TelegramChannel:
    kind: ClassVar[str] = "telegram"
    secret_fields: ClassVar[tuple[str, ...]] = ("bot_token",)
    required: ClassVar[tuple[str, ...]] = ("bot_token", "chat_id")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        if not _TOKEN.match(str(secrets.get("bot_token", ""))):
            raise Invalid(
                "config.bot_token: expected a bot token like 123456:ABC-DEF…",
                code="invalid_channel_config",
                extra={"field": "config.bot_token"},
            )
        chat = str(config.get("chat_id", ""))
        if not re.match(r"^(-?\d{1,20}|@[A-Za-z0-9_]{5,64})$", chat):
            raise Invalid(
                "config.chat_id: expected a numeric chat id or @channelname",
                code="invalid_channel_config",
                extra={"field": "config.chat_id"},
            )

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult:
        payload = message.payload
        text = f"<b>{html.escape(title(payload))}</b>\n" + "\n".join(
            html.escape(line) for line in text_lines(payload)
        )
        url = (
            f"{self.settings.notify.telegram_api_url}/bot{channel.secrets['bot_token']}/sendMessage"
        )
        answer = await http.request(
            "POST",
            url,
            self.settings.notify,
            json={
                "chat_id": channel.config["chat_id"],
                "text": text[:TEXT_LIMIT],
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            },
        )
        reply = answer.json() if isinstance(answer.json(), dict) else {}
        if answer.status_code == 429:
            wait = (reply.get("parameters") or {}).get("retry_after")
            raise DeliveryError(
                f"Telegram: {reply.get('description', 'too many requests')}",
                permanent=False,
                status_code=429,
                retry_after=float(wait) if isinstance(wait, int | float) else None,
            )
        if answer.status_code >= 300 or reply.get("ok") is False:
            # Never echo the URL: it carries the bot token.
            description = str(reply.get("description") or answer.excerpt())[:200]
            status = answer.status_code
            raise DeliveryError(
                f"Telegram answered {status}: {description}",
                permanent=not (status >= 500 or status == 408),
                status_code=status,
            )
        return SendResult(answer.status_code)
