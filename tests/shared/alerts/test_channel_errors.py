"""What a user meets when a channel's endpoint says no, through the outbox to real local
receivers: Slack's error words (200 with `{"ok": false}` or a bare word, 4xx bodies),
Telegram's "bot was blocked", SMTP with and without the authentication it asks for. A
permanent refusal is tried once, never again, and shows as the channel's last error; what
may heal (429, 5xx) waits and retries."""

from __future__ import annotations

from typing import Any

import pytest

from shared.backends import Backends
from shared.config import SmtpSettings
from shared.notify import channels
from shared.notify.outbox import Outcome, deliver, sweep
from tests.fixtures.receivers import SMTP_PASSWORD, SMTP_USER
from tests.shared.alerts.conftest import consumer

LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 0}


async def fire(alerting: Any, outs: list[Any]) -> dict[str, str]:
    """One lagging consumer's alert fires to every channel of `outs`: {channel id: its
    delivery id}."""
    cluster = await alerting.cluster()
    await alerting.rule(condition=LAG, channels=[str(c.id) for c in outs])
    lagging = alerting.collection(cluster, consumers=[consumer("ORDERS", "c1", pending=50)])
    assert len(await alerting.evaluate(cluster, 0, lagging)) == len(outs)
    by_channel = {}
    for out in outs:
        (delivery,) = (
            await channels.list_deliveries(alerting.backends, alerting.ctx, out.id)
        ).items
        by_channel[str(out.id)] = str(delivery.id)
    return by_channel


async def state_of(alerting: Any, out: Any) -> tuple[Any, Any]:
    """(the channel as the API shows it, its one delivery)."""
    channel = await channels.get_channel(alerting.backends, alerting.ctx, out.id)
    (delivery,) = (await channels.list_deliveries(alerting.backends, alerting.ctx, out.id)).items
    return channel, delivery


SLACK = {
    # path: (the receiver's answer, the channel's last error; None: not a failure)
    "/slack/json-200": (
        (200, {"Content-Type": "application/json"}, b'{"ok":false,"error":"invalid_token"}'),
        "Slack answered: invalid_token",
    ),
    "/slack/word-200": ((200, {}, b"invalid_token"), "Slack answered: invalid_token"),
    "/slack/forbidden": ((403, {}, b"invalid_token"), "Slack answered 403: invalid_token"),
    "/slack/no-service": ((404, {}, b"no_service"), "Slack answered 404: no_service"),
    "/slack/json-400": (
        (400, {"Content-Type": "application/json"}, b'{"ok":false,"error":"invalid_blocks"}'),
        "Slack answered 400: invalid_blocks",
    ),
    "/slack/archived": (
        (410, {}, b"channel_is_archived"),
        "Slack answered 410: channel_is_archived",
    ),
    "/slack/json-ok": ((200, {}, b'{"ok":true}'), None),
}


async def test_slacks_error_words_fail_once_and_show_on_the_channel(alerting, receiver):
    outs = {}
    for path, (answer, _) in SLACK.items():
        receiver.script(path, [answer])
        outs[path] = await alerting.channel("slack", name=path, webhook_url=receiver.url + path)
    receiver.script("/slack/limited", [(429, {"Retry-After": "30"}, b"rate_limited")])
    outs["/slack/limited"] = await alerting.channel(
        "slack", name="limited", webhook_url=f"{receiver.url}/slack/limited"
    )
    ids = await fire(alerting, list(outs.values()))

    outcomes: dict[str, Outcome] = {}
    for path, out in outs.items():
        outcomes[path] = await deliver(alerting.backends, ids[str(out.id)])
    assert await sweep(alerting.backends) == []  # nothing due: no failure comes back

    for path, (_, error) in SLACK.items():
        assert len(receiver.on(path)) == 1, path
        channel, delivery = await state_of(alerting, outs[path])
        if error is None:
            assert (outcomes[path].state, delivery.state, channel.last_error) == (
                "sent",
                "sent",
                None,
            )
            continue
        assert outcomes[path].state == "failed", path
        assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 1, error)
        assert channel.last_error == error and channel.last_error_at is not None
        assert channel.enabled == (path != "/slack/archived"), path
    archived, _ = await state_of(alerting, outs["/slack/archived"])
    assert "410" in (archived.disabled_reason or "")

    limited = outcomes["/slack/limited"]
    assert limited.state == "retry" and (limited.retry_in or 0) >= 30
    channel, delivery = await state_of(alerting, outs["/slack/limited"])
    assert delivery.state == "pending" and delivery.next_attempt_at is not None
    assert channel.last_error is None  # not failed (yet): it waits and retries


def telegram_error(code: int, description: str, **parameters: Any) -> bytes:
    import json

    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body).encode()


async def test_a_blocked_telegram_bot_fails_once_and_shows_on_the_channel_without_its_token(
    alerting, receiver
):
    tokens = {
        "blocked": "111111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "no-chat": "222222:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        "limited": "333333:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
        "down": "444444:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
    }
    answers = {
        "blocked": (403, {}, telegram_error(403, "Forbidden: bot was blocked by the user")),
        "no-chat": (400, {}, telegram_error(400, "Bad Request: chat not found")),
        "limited": (
            429,
            {},
            telegram_error(429, "Too Many Requests: retry after 9", retry_after=9),
        ),
        "down": (502, {}, b"Bad Gateway"),
    }
    outs = {}
    for name, token in tokens.items():
        receiver.script(f"/telegram/bot{token}/", [answers[name]])
        outs[name] = await alerting.channel(
            "telegram", name=name, bot_token=token, chat_id="-1001234"
        )
    ids = await fire(alerting, list(outs.values()))
    outcomes = {
        name: await deliver(alerting.backends, ids[str(out.id)]) for name, out in outs.items()
    }

    for name in ("blocked", "no-chat"):
        (call,) = receiver.on(f"/telegram/bot{tokens[name]}/")
        assert call.method == "POST" and call.path.endswith("/sendMessage")
        assert call.json()["chat_id"] == "-1001234"
        channel, delivery = await state_of(alerting, outs[name])
        assert outcomes[name].state == "failed" and delivery.attempts == 1
        assert tokens[name] not in (channel.last_error or "")
    blocked, _ = await state_of(alerting, outs["blocked"])
    assert blocked.last_error == "Telegram answered 403: Forbidden: bot was blocked by the user"
    no_chat, _ = await state_of(alerting, outs["no-chat"])
    assert no_chat.last_error == "Telegram answered 400: Bad Request: chat not found"

    assert outcomes["limited"].state == "retry" and (outcomes["limited"].retry_in or 0) >= 9
    assert outcomes["down"].state == "retry"
    for name in ("limited", "down"):
        channel, delivery = await state_of(alerting, outs[name])
        assert delivery.state == "pending" and channel.last_error is None
    due = set(await sweep(alerting.backends))  # "down" may be due again already
    assert not due & {ids[str(outs[n].id)] for n in ("blocked", "no-chat", "limited")}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_with_authentication_and_the_errors_of_a_wrong_setup(
    alerting, smtp_server, smtp_auth_server
):
    names = ("authenticated", "wrong password", "no credentials", "server without auth")
    outs = {n: await alerting.channel("email", name=n, to=["oncall@example.com"]) for n in names}
    ids = await fire(alerting, list(outs.values()))
    setups = {
        "authenticated": (smtp_auth_server, SMTP_USER, SMTP_PASSWORD),
        "wrong password": (smtp_auth_server, SMTP_USER, "not-the-password"),
        "no credentials": (smtp_auth_server, None, None),
        "server without auth": (smtp_server, SMTP_USER, SMTP_PASSWORD),
    }
    outcomes = {}
    for name, (server, user, password) in setups.items():
        smtp = SmtpSettings(
            host="127.0.0.1",
            port=server.port,
            security="none",
            username=user,
            password=password,
            from_address="jetdeck@example.com",
        )
        backends = Backends.open(alerting.backends.settings.model_copy(update={"smtp": smtp}))
        try:
            outcomes[name] = await deliver(backends, ids[str(outs[name].id)])
        finally:
            await backends.close()

    assert outcomes["authenticated"].state == "sent"
    assert smtp_auth_server.logins == [SMTP_USER]
    (mail,) = smtp_auth_server.messages
    assert mail["From"] == "jetdeck@example.com" and mail["To"] == "oncall@example.com"
    assert smtp_server.messages == []

    errors = {}
    for name in names[1:]:
        channel, delivery = await state_of(alerting, outs[name])
        assert outcomes[name].state == "failed", name
        assert (delivery.state, delivery.attempts) == ("failed", 1), name
        assert channel.last_error and SMTP_PASSWORD not in channel.last_error
        errors[name] = channel.last_error
    assert errors["wrong password"].startswith("SMTP authentication failed (535")
    assert errors["no credentials"].startswith("SMTP answered 530")
    assert "AUTH extension is not supported" in errors["server without auth"]
    assert await sweep(alerting.backends) == []
