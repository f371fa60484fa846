"""Slack incoming webhooks, as Block Kit: severity, target, value against threshold, a link
to the target's console page, the runbook."""

from __future__ import annotations

from typing import Any, ClassVar

from shared.config import Settings
from shared.errors import Invalid
from shared.notify import http
from shared.notify.base import ChannelConfig, DeliveryError, Outgoing, SendResult, register
from shared.notify.message import condition_words, entry_line, target_label, text_lines, title

SLACK_LIST_LIMIT = 20  # a section block holds 3000 characters; keep a margin


@register
class SlackChannel:
    kind: ClassVar[str] = "slack"
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_url",)
    required: ClassVar[tuple[str, ...]] = ("webhook_url",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        if not str(secrets.get("webhook_url", "")).startswith(("https://", "http://")):
            raise Invalid(
                "config.webhook_url: expected the Slack incoming webhook URL",
                code="invalid_channel_config",
                extra={"field": "config.webhook_url"},
            )

    def blocks(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title(payload)[:150]}}
        ]
        if payload["event"] == "test":
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "\n".join(text_lines(payload))},
                }
            )
            return blocks
        rule = payload["rule"]
        fields = [
            {"type": "mrkdwn", "text": f"*Severity*\n{rule['severity']}"},
            {
                "type": "mrkdwn",
                "text": f"*Condition*\n{condition_words(rule.get('condition', {}))}",
            },
        ]
        blocks.append({"type": "section", "fields": fields})
        lines = [
            f"• <{e['url']}|{target_label(e['target'])}> "
            + entry_line(e, payload).split(": ", 1)[-1]
            for e in payload["alerts"][:SLACK_LIST_LIMIT]
        ]
        more = payload["count"] - len(lines)
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}}
        )
        links = [f"<{payload['console_url']}|Open in JetDeck>"]
        if rule.get("runbook_url"):
            links.append(f"<{rule['runbook_url']}|Runbook>")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]}
        )
        return blocks

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult:
        payload = message.payload
        body = {"text": title(payload), "blocks": self.blocks(payload)}
        answer = await http.request(
            "POST", channel.secrets["webhook_url"], self.settings.notify, json=body
        )
        status, reply = answer.status_code, answer.json()
        if isinstance(reply, dict) and "ok" in reply:
            # JSON (Slack's Web API style, or a Slack-compatible receiver): its error word.
            if reply["ok"] is True and 200 <= status < 300:
                return SendResult(status)
            text = str(reply.get("error") or "not ok")
            answer = http.Answer(status, answer.headers, text.encode())
        else:
            text = answer.body.decode("utf-8", "replace").strip()
        if 200 <= status < 300 and text not in ("", "ok"):
            # 200 with an error word (`invalid_token`, `{"ok": false, ...}`): none of them
            # heals alone, so it is not retried.
            raise DeliveryError(f"Slack answered: {text[:200]}", permanent=True, status_code=status)
        # 4xx with the error word as the body (403 invalid_token, 404 no_service,
        # 410 channel_is_archived: the channel is turned off) fail; 429 and 5xx are retried.
        http.raise_for_answer(answer, "Slack")
        return SendResult(status)
