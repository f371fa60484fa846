"""PagerDuty Events API v2: `trigger` on firing (and repeat), `resolve` on resolved, with
`dedup_key` = the alert id, so PagerDuty's incident follows the alert. One event per alert:
PagerDuty groups incidents itself and resolves them one dedup_key at a time. The endpoint
is `JETDECK_NOTIFY_PAGERDUTY_URL`."""

from __future__ import annotations

from typing import Any, ClassVar

from shared.config import Settings
from shared.errors import Invalid
from shared.notify import http
from shared.notify.base import ChannelConfig, Outgoing, SendResult, register
from shared.notify.message import target_label, text_lines, title

SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


@register
class PagerDutyChannel:
    kind: ClassVar[str] = "pagerduty"
    secret_fields: ClassVar[tuple[str, ...]] = ("routing_key",)
    required: ClassVar[tuple[str, ...]] = ("routing_key",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        key = str(secrets.get("routing_key", ""))
        if not (20 <= len(key) <= 64) or not key.isalnum():
            raise Invalid(
                "config.routing_key: expected a PagerDuty integration key (32 letters and digits)",
                code="invalid_channel_config",
                extra={"field": "config.routing_key"},
            )

    def event(self, message: Outgoing, routing_key: str) -> dict[str, Any]:
        payload = message.payload
        if payload["event"] == "test":
            return {
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": f"jetdeck-test-{message.id}",
                "payload": {"summary": title(payload), "source": "jetdeck", "severity": "info"},
            }
        alert = payload["alerts"][0]
        action = "resolve" if payload["event"] == "resolved" else "trigger"
        event: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": alert["id"],
        }
        if action == "trigger":
            rule = payload["rule"]
            event["payload"] = {
                "summary": title(payload)[:1024],
                "source": target_label(alert["target"]),
                "severity": SEVERITY.get(rule["severity"], "warning"),
                "component": alert["target"].get("consumer") or alert["target"].get("stream"),
                "group": alert["target"].get("cluster"),
                "class": rule["name"],
                "custom_details": {"lines": text_lines(payload), "alert": alert},
            }
            event["links"] = [{"href": alert["url"], "text": "Open in JetDeck"}]
            if rule.get("runbook_url"):
                event["links"].append({"href": rule["runbook_url"], "text": "Runbook"})
        return event

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult:
        body = self.event(message, channel.secrets["routing_key"])
        answer = await http.request(
            "POST", self.settings.notify.pagerduty_url, self.settings.notify, json=body
        )
        http.raise_for_answer(answer, "PagerDuty")
        return SendResult(answer.status_code)
