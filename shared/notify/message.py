"""What a notification says, built once when the alerts change state and frozen in the
delivery row (so a retry days later says the same), and rendered by each channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.config import Settings

EVENT_WORDS = {"firing": "FIRING", "resolved": "RESOLVED", "repeat": "STILL FIRING", "test": "TEST"}


def console_base(settings: Settings) -> str:
    if settings.notify.console_url:
        return settings.notify.console_url
    return f"http://{settings.app.host}:{settings.app.port}"


def target_url(base: str, org: str, target: dict[str, Any]) -> str:
    """The console page of the target (the consumer, the stream or the cluster)."""
    url = f"{base}/orgs/{quote(org)}/clusters/{quote(target.get('cluster', ''))}"
    if target.get("stream"):
        url += f"/streams/{quote(target['stream'])}"
        if target.get("consumer"):
            url += f"/consumers/{quote(target['consumer'])}"
    return url


def target_label(target: dict[str, Any]) -> str:
    parts = [target.get("cluster", "")]
    for key in ("server", "account", "stream", "consumer"):
        if target.get(key):
            parts.append(f"{key} {target[key]}" if key in ("server", "account") else target[key])
    return " / ".join(p for p in parts if p)


def duration_words(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {s}s" if s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {m}m" if m else f"{hours}h"
    days, h = divmod(hours, 24)
    return f"{days}d {h}h" if h else f"{days}d"


def alert_entry(
    *,
    alert_id: str,
    target: dict[str, Any],
    state: str,
    value: float | None,
    threshold: float | None,
    started_at: datetime,
    firing_at: datetime | None,
    resolved_at: datetime | None,
    detail: str | None,
    resolved_reason: str | None,
    console: str,
    org: str,
) -> dict[str, Any]:
    fired_for = (resolved_at - firing_at).total_seconds() if resolved_at and firing_at else None
    return {
        "id": alert_id,
        "target": target,
        "state": state,
        "value": value,
        "threshold": threshold,
        "started_at": started_at.isoformat(),
        "firing_at": firing_at.isoformat() if firing_at else None,
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
        "fired_for_seconds": fired_for,
        "detail": detail,
        "resolved_reason": resolved_reason,
        "url": target_url(console, org, target),
    }


def condition_words(condition: dict[str, Any]) -> str:
    if condition.get("kind") == "nats_monitor_metadata":
        return "io.nats.monitor.* thresholds"
    return f"{condition.get('metric')} {condition.get('op')} {condition.get('threshold'):g}"


def title(payload: dict[str, Any]) -> str:
    rule = payload["rule"]
    word = EVENT_WORDS.get(payload["event"], payload["event"].upper())
    if payload["event"] == "test":
        return f"[TEST] JetDeck test notification for channel {payload.get('channel', '')}"
    count = payload["count"]
    what = f"{count} targets" if count > 1 else target_label(payload["alerts"][0]["target"])
    return f"[{word}] {rule['severity'].upper()} {rule['name']}: {what}"


def value_words(entry: dict[str, Any], payload: dict[str, Any]) -> str:
    if entry.get("detail"):
        return str(entry["detail"])
    value, threshold = entry.get("value"), entry.get("threshold")
    op = payload["rule"].get("condition", {}).get("op", "")
    if value is None:
        return "no value"
    return f"{value:g} {op} {threshold:g}" if threshold is not None else f"{value:g}"


def entry_line(entry: dict[str, Any], payload: dict[str, Any]) -> str:
    line = f"{target_label(entry['target'])}: {value_words(entry, payload)}"
    if payload["event"] == "resolved":
        if entry.get("resolved_reason") == "target_vanished":
            line = f"{target_label(entry['target'])}: the target no longer exists"
        if entry.get("fired_for_seconds") is not None:
            line += f" (fired for {duration_words(entry['fired_for_seconds'])})"
    return line


def text_lines(payload: dict[str, Any]) -> list[str]:
    """The body as plain lines: the alerts listed (first N) and how many more."""
    if payload["event"] == "test":
        return ["This is a test notification sent from JetDeck.", payload.get("console_url", "")]
    lines = [entry_line(e, payload) for e in payload["alerts"]]
    more = payload["count"] - len(payload["alerts"])
    if more > 0:
        lines.append(f"… and {more} more")
    rule = payload["rule"]
    lines.append(f"Rule: {rule['name']} ({condition_words(rule.get('condition', {}))})")
    if rule.get("runbook_url"):
        lines.append(f"Runbook: {rule['runbook_url']}")
    lines.append(f"Console: {payload['console_url']}")
    return lines


def test_payload(channel_name: str, console: str, at: datetime) -> dict[str, Any]:
    return {
        "event": "test",
        "channel": channel_name,
        "rule": {"id": None, "name": "test", "severity": "info", "condition": {}},
        "alerts": [],
        "count": 0,
        "console_url": console,
        "timestamp": at.isoformat(),
    }
