"""The alert pages: viewers read alerts, rules and silences and see no mutation control (a
forged POST is a 403); editors acknowledge, silence (from an alert, matchers pre-filled),
and write rules with a preview; admins manage channels (signing secret shown once, Send test
through the alert path, recent deliveries). A form's mistake shows beside its field with
what was typed kept; every change lands on the audit trail."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.app import create_app
from shared.audit.trail import list_events
from tests.fixtures.accounts import csrf_token, web_login

ORG = "/orgs/acme"
API = "/api/v1/orgs/acme"
HTML = {"Accept": "text/html"}
LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 0}


@pytest.fixture
def app(notify_settings: Any) -> Any:
    return create_app(notify_settings)


async def _sign_in(client: Any, make_user: Any, role: str) -> str:
    """Signs the client in as `<role>@acme.test`; returns the session's CSRF token."""
    await make_user(f"{role}@acme.test", org_slug="acme", role=role)
    assert (await web_login(client, f"{role}@acme.test")).status_code == 303
    return csrf_token((await client.get(ORG, headers=HTML)).text)


async def _firing_alert(client: Any, auth_headers: Any, accounts: Any) -> str:
    """A rule `lag` firing for consumer ORDERS/billing on cluster `main` (one evaluation of
    a collection where it has 50 pending); returns the alert's id."""
    from shared.alerts.evaluation import evaluate_rules
    from shared.alerts.metrics import Cycle
    from shared.db.base import utcnow
    from shared.metrics.samples import Collection, ConsumerSample

    admin = await auth_headers("admin")
    cluster = await client.post(
        "/api/v1/orgs/acme/clusters",
        json={"name": "main", "servers": ["nats://127.0.0.1:1"]},
        headers=admin,
    )
    assert cluster.status_code == 201, cluster.text
    rule = await client.post(
        f"{API}/alert-rules",
        json={"name": "lag", "severity": "critical", "condition": LAG},
        headers=await auth_headers("editor"),
    )
    assert rule.status_code == 201, rule.text
    lagging = ConsumerSample("", "ORDERS", "billing", None, 50, 0, 0, 0, 0, 0, 0, 0, None)
    now = utcnow()
    await evaluate_rules(
        accounts.backends,
        Cycle(cluster.json()["id"], "main", now, Collection("", "", now, consumers=[lagging])),
    )
    listed = await client.get(f"{API}/alerts?state=firing", headers=admin)
    (alert,) = listed.json()["items"]
    return str(alert["id"])


async def _audited(accounts: Any, action: str) -> int:
    org = await accounts.make_org("acme")
    return (await list_events(accounts.db, org.id, action=action)).total


def _field_error(html: str, field: str) -> str | None:
    match = re.search(rf'id="f-{re.escape(field)}-error">([^<]*)<', html)
    return match.group(1) if match else None


async def test_viewers_read_alerts_rules_and_silences_without_controls_and_forged_posts_are_refused(
    client, make_user, auth_headers, accounts
):
    alert_id = await _firing_alert(client, auth_headers, accounts)
    token = await _sign_in(client, make_user, "viewer")

    page = await client.get(f"{ORG}/alerts", headers=HTML)
    assert page.status_code == 200, page.text
    assert f'href="{ORG}/alerts" aria-current="page">Alerts</a>' in page.text  # the nav entry
    assert f'href="{ORG}/alerts/{alert_id}">lag</a>' in page.text
    assert "billing" in page.text and "Acknowledge…" not in page.text
    assert "Silence…" not in page.text
    resolved = await client.get(f"{ORG}/alerts?state=resolved", headers=HTML)
    assert "No resolved alerts" in resolved.text
    filtered = await client.get(f"{ORG}/alerts?state=firing&severity=info", headers=HTML)
    assert "billing" not in filtered.text
    live = await client.get(
        f"{ORG}/alerts?state=firing",
        headers={**HTML, "HX-Request": "true", "HX-Target": "alerts_live"},
    )
    assert live.text.lstrip().startswith('<div id="alerts_live"') and "billing" in live.text
    tab = await client.get(
        f"{ORG}/alerts?state=pending",
        headers={**HTML, "HX-Request": "true", "HX-Target": "alerts_view"},
    )
    assert tab.text.lstrip().startswith('<div id="alerts_view"') and "No pending alerts" in tab.text

    # Without a range the page opens on the one that shows the alert (it began just now).
    bare = await client.get(f"{ORG}/alerts/{alert_id}", headers=HTML)
    assert bare.status_code == 303 and bare.headers["location"].endswith("?range=1h")
    detail = await client.get(f"{ORG}/alerts/{alert_id}?range=1h", headers=HTML)
    assert detail.status_code == 200, detail.text
    assert "Timeline" in detail.text and "against threshold 10" in detail.text
    assert "Act on it" not in detail.text
    assert (await client.get(f"{ORG}/alerts/rules", headers=HTML)).status_code == 200
    assert (await client.get(f"{ORG}/alerts/silences", headers=HTML)).status_code == 200
    assert "New silence" not in (await client.get(f"{ORG}/alerts/silences", headers=HTML)).text
    assert (await client.get(f"{ORG}/alerts/rules/new", headers=HTML)).status_code == 403
    assert (await client.get(f"{ORG}/settings/channels", headers=HTML)).status_code == 403

    for path, data in [
        (f"{ORG}/alerts/{alert_id}/acknowledge", {"comment": "mine"}),
        (f"{ORG}/alerts/silences", {"matchers.stream": "ORDERS", "comment": "x"}),
        (f"{ORG}/alerts/rules", {"name": "sneaky", "condition.metric": "stream.bytes"}),
    ]:
        forged = await client.post(path, data={"csrf_token": token, **data}, headers=HTML)
        assert forged.status_code == 403, path
    assert await _audited(accounts, "alert.acknowledge") == 0
    assert await _audited(accounts, "silence.create") == 0


async def test_an_editor_acknowledges_an_alert_and_silences_it_with_matchers_from_the_alert(
    client, make_user, auth_headers, accounts
):
    alert_id = await _firing_alert(client, auth_headers, accounts)
    token = await _sign_in(client, make_user, "editor")
    assert "Acknowledge…" in (await client.get(f"{ORG}/alerts", headers=HTML)).text

    acked = await client.post(
        f"{ORG}/alerts/{alert_id}/acknowledge",
        data={"csrf_token": token, "comment": "on it"},
        headers=HTML,
    )
    assert acked.status_code == 303 and acked.headers["location"] == f"{ORG}/alerts/{alert_id}"
    detail = (await client.get(f"{ORG}/alerts/{alert_id}?range=1h", headers=HTML)).text
    assert "by editor@acme.test" in detail and "on it" in detail
    assert await _audited(accounts, "alert.acknowledge") == 1

    form = (await client.get(f"{ORG}/alerts/silences?alert={alert_id}", headers=HTML)).text
    assert 'name="matchers.consumer" type="text" value="billing"' in form
    assert 'name="matchers.stream" type="text" value="ORDERS"' in form
    rule_id = re.search(r'<option value="([0-9a-f-]{36})" selected>lag</option>', form)
    assert rule_id is not None

    matchers = {
        "matchers.rule_id": rule_id.group(1),
        "matchers.cluster": "main",
        "matchers.stream": "ORDERS",
        "matchers.consumer": "billing",
        "from_alert": alert_id,
        "duration": "3600",
    }
    missing = await client.post(
        f"{ORG}/alerts/silences", data={"csrf_token": token, **matchers}, headers=HTML
    )
    assert missing.status_code == 422
    assert _field_error(missing.text, "comment") == "comment: say why"
    assert 'value="billing"' in missing.text  # what was typed is kept
    bad_glob = await client.post(
        f"{ORG}/alerts/silences",
        data={"csrf_token": token, **matchers, "matchers.stream": "ORD[ERS", "comment": "x"},
        headers=HTML,
    )
    assert bad_glob.status_code == 422 and _field_error(bad_glob.text, "matchers.stream")

    made = await client.post(
        f"{ORG}/alerts/silences",
        data={"csrf_token": token, **matchers, "comment": "deploying"},
        headers=HTML,
    )
    assert made.status_code == 303 and made.headers["location"] == f"{ORG}/alerts/{alert_id}"
    assert "silenced" in (await client.get(f"{ORG}/alerts/{alert_id}?range=1h", headers=HTML)).text
    listing = (await client.get(f"{ORG}/alerts/silences", headers=HTML)).text
    assert "deploying" in listing and "End now" in listing
    silence_id = re.search(r'/alerts/silences/([0-9a-f-]{36})/end"', listing)
    assert silence_id is not None
    ended = await client.post(
        f"{ORG}/alerts/silences/{silence_id.group(1)}/end",
        data={"csrf_token": token},
        headers=HTML,
    )
    assert ended.status_code == 303
    assert "deploying" not in (await client.get(f"{ORG}/alerts/silences", headers=HTML)).text
    assert "deploying" in (await client.get(f"{ORG}/alerts/silences?show=all", headers=HTML)).text
    assert await _audited(accounts, "silence.create") == 1
    assert await _audited(accounts, "silence.end") == 1


RULE_FORM = {
    "name": "backlog",
    "description": "billing falls behind",
    "runbook_url": "https://runbooks.example/backlog",
    "enabled": "on",
    "severity": "warning",
    "scope.cluster": "",
    "scope.stream": "ORDERS",
    "scope.consumer": "bill*",
    "condition.kind": "threshold",
    "condition.metric": "consumer.num_pending",
    "condition.op": ">",
    "condition.threshold": "10",
    "condition.for_seconds": "60",
    "repeat_interval_seconds": "1800",
    "notify_resolved": "on",
    "labels": "team=billing",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition.metric": "consumer.lagginess"}, "condition.metric"),
        ({"condition.threshold": "lots"}, "condition.threshold"),
        ({"condition.for_seconds": "-5"}, "condition.for_seconds"),
        ({"scope.stream": "ORD[ERS"}, "scope.stream"),
        ({"repeat_interval_seconds": "0"}, "repeat_interval_seconds"),
        ({"labels": "no equals sign"}, "labels"),
    ],
)
async def test_a_rule_forms_mistake_shows_beside_its_field_with_the_input_kept(
    client, make_user, change, field
):
    token = await _sign_in(client, make_user, "editor")
    answer = await client.post(
        f"{ORG}/alerts/rules", data={"csrf_token": token, **RULE_FORM, **change}, headers=HTML
    )
    assert answer.status_code == 422, answer.text
    assert _field_error(answer.text, field), answer.text
    assert 'value="billing falls behind"' in answer.text


async def test_an_editor_creates_edits_previews_and_deletes_a_rule(
    client, make_user, accounts, on_server, nats_server
):
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
    await js.pull_subscribe("orders.>", durable="billing", stream="ORDERS")
    for _ in range(20):
        await js.publish("orders.new", b"x")
    await nc.close()
    token = await _sign_in(client, make_user, "editor")
    assert (await client.get(f"{ORG}/alerts/rules/new", headers=HTML)).status_code == 200

    preview = await client.post(
        f"{ORG}/alerts/rules/preview",
        data={"csrf_token": token, **RULE_FORM},
        headers={**HTML, "HX-Request": "true", "HX-Target": "rule_preview"},
    )
    assert preview.status_code == 200, preview.text
    assert preview.text.lstrip().startswith('<section id="rule_preview"')
    assert "would fire" in preview.text and "billing" in preview.text
    assert "1 of 1 targets would fire" in preview.text
    assert await _audited(accounts, "alert_rule.create") == 0  # a preview stores nothing

    made = await client.post(
        f"{ORG}/alerts/rules", data={"csrf_token": token, **RULE_FORM}, headers=HTML
    )
    assert made.status_code == 303, made.text
    listing = (await client.get(f"{ORG}/alerts/rules", headers=HTML)).text
    found = re.search(rf'href="{ORG}/alerts/rules/([0-9a-f-]{{36}})">backlog</a>', listing)
    assert found is not None
    rule_path = f"{ORG}/alerts/rules/{found.group(1)}"
    editor = (await client.get(rule_path, headers=HTML)).text
    assert 'value="bill*"' in editor and "team=billing" in editor

    changed = await client.post(
        rule_path,
        data={"csrf_token": token, **RULE_FORM, "condition.threshold": "100"},
        headers=HTML,
    )
    assert changed.status_code == 303
    assert 'value="100"' in (await client.get(rule_path, headers=HTML)).text
    wrong = await client.post(
        f"{rule_path}/delete", data={"csrf_token": token, "confirm": "nope"}, headers=HTML
    )
    assert wrong.status_code == 422 and "Type the rule&#39;s name" in wrong.text
    gone = await client.post(
        f"{rule_path}/delete", data={"csrf_token": token, "confirm": "backlog"}, headers=HTML
    )
    assert gone.status_code == 303
    assert (await client.get(rule_path, headers=HTML)).status_code == 404
    for action in ("alert_rule.create", "alert_rule.update", "alert_rule.delete"):
        assert await _audited(accounts, action) == 1, action


async def test_an_admin_makes_a_webhook_channel_sees_its_secret_once_and_sends_a_test(
    client, make_user, accounts, receiver
):
    token = await _sign_in(client, make_user, "admin")
    nav = (await client.get(f"{ORG}/settings/channels", headers=HTML)).text
    assert f'href="{ORG}/settings/channels" aria-current="page">Channels</a>' in nav

    refused = await client.post(
        f"{ORG}/settings/channels",
        data={"csrf_token": token, "kind": "webhook", "name": "hook", "config.url": "ftp://x"},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert _field_error(refused.text, "config.url") and 'value="hook"' in refused.text

    made = await client.post(
        f"{ORG}/settings/channels",
        data={
            "csrf_token": token,
            "kind": "webhook",
            "name": "hook",
            "config.url": f"{receiver.url}/hook",
            "config.headers": "X-Team: ops",
        },
        headers=HTML,
    )
    assert made.status_code == 200, made.text
    secret = re.search(
        r'id="signing-secret" class="secret-value" readonly value="([^"]+)"', made.text
    )
    assert secret is not None and 'data-copy="signing-secret"' in made.text
    assert f"{receiver.url}/hook" not in made.text  # the URL is write-only
    channel_id = re.search(r"/settings/channels/([0-9a-f-]{36})/test", made.text)
    assert channel_id is not None
    path = f"{ORG}/settings/channels/{channel_id.group(1)}"
    page = (await client.get(path, headers=HTML)).text
    assert secret.group(1) not in page and "URL (set)" in page

    tested = await client.post(
        f"{path}/test",
        data={"csrf_token": token},
        headers={**HTML, "HX-Request": "true", "HX-Target": "channel_test"},
    )
    assert tested.status_code == 200 and "Test sent: the receiver answered 200" in tested.text
    assert tested.text.lstrip().startswith('<div id="channel_test"') and ">test<" in tested.text
    (call,) = receiver.on("/hook")
    assert call.headers["X-Team"] == "ops"
    from standardwebhooks.webhooks import Webhook

    assert Webhook(secret.group(1)).verify(call.body, call.headers)["type"] == "test"
    page = (await client.get(path, headers=HTML)).text
    assert "Recent deliveries" in page and ">test<" in page

    kept = await client.post(
        path, data={"csrf_token": token, "name": "hook-2", "config.url": ""}, headers=HTML
    )
    assert kept.status_code == 303
    await client.post(f"{path}/test", data={"csrf_token": token}, headers=HTML)
    assert len(receiver.on("/hook")) == 2  # an empty secret field kept the stored URL
    disabled = await client.post(path, data={"csrf_token": token, "enabled": "false"}, headers=HTML)
    assert disabled.status_code == 303
    assert "Enable</button>" in (await client.get(path, headers=HTML)).text
    rotated = await client.post(f"{path}/rotate", data={"csrf_token": token}, headers=HTML)
    assert 'id="signing-secret"' in rotated.text and secret.group(1) not in rotated.text

    wrong = await client.post(
        f"{path}/delete", data={"csrf_token": token, "confirm": "hook"}, headers=HTML
    )
    assert wrong.status_code == 422
    gone = await client.post(
        f"{path}/delete", data={"csrf_token": token, "confirm": "hook-2"}, headers=HTML
    )
    assert gone.status_code == 303
    assert "No channel yet" in (await client.get(f"{ORG}/settings/channels", headers=HTML)).text
    for action in (
        "notification_channel.create",
        "notification_channel.test",
        "notification_channel.rotate_secret",
        "notification_channel.delete",
    ):
        assert await _audited(accounts, action) >= 1, action
    assert await _audited(accounts, "notification_channel.update") == 2


async def test_an_editor_cannot_reach_channels_and_a_forged_channel_post_is_refused(
    client, make_user
):
    token = await _sign_in(client, make_user, "editor")
    assert "Channels</a>" not in (await client.get(f"{ORG}/alerts", headers=HTML)).text
    assert (await client.get(f"{ORG}/settings/channels", headers=HTML)).status_code == 403
    forged = await client.post(
        f"{ORG}/settings/channels",
        data={"csrf_token": token, "kind": "slack", "name": "s", "config.webhook_url": "x"},
        headers=HTML,
    )
    assert forged.status_code == 403


async def test_email_pagerduty_and_telegram_channels_keep_their_secrets_write_only(
    client, make_user
):
    token = await _sign_in(client, make_user, "admin")
    bad = await client.post(
        f"{ORG}/settings/channels",
        data={"csrf_token": token, "kind": "email", "name": "mail", "config.to": "not-an-address"},
        headers=HTML,
    )
    assert bad.status_code == 422 and "not an email address" in bad.text
    assert "not-an-address" in bad.text  # kept as typed
    for kind, config, shown, hidden in [
        ("email", {"config.to": "a@x.example, b@x.example"}, "b@x.example", None),
        (
            "pagerduty",
            {"config.routing_key": "R0UT1NGK3Yabcdefghijklmnopqrstuv"},
            "Routing key (set)",
            "R0UT1NGK3Yabcdefghijklmnopqrstuv",
        ),
        (
            "telegram",
            {"config.bot_token": "123456:B0TT0K3Nabcdefghijklmnop", "config.chat_id": "-10042"},
            "-10042",
            "123456:B0TT0K3Nabcdefghijklmnop",
        ),
    ]:
        made = await client.post(
            f"{ORG}/settings/channels",
            data={"csrf_token": token, "kind": kind, "name": kind, **config},
            headers=HTML,
        )
        assert made.status_code == 303, made.text
        page = (await client.get(made.headers["location"], headers=HTML)).text
        assert shown in page, kind
        if hidden:
            assert hidden not in page and "(set)" in page, kind
    listing = (await client.get(f"{ORG}/settings/channels", headers=HTML)).text
    assert all(f">{kind}</a>" in listing for kind in ("email", "pagerduty", "telegram"))


async def test_a_channel_whose_endpoint_refuses_shows_the_error_on_its_page_and_the_list(
    client, make_user, receiver
):
    token = await _sign_in(client, make_user, "admin")
    receiver.script("/slack/", [(200, {}, b'{"ok":false,"error":"invalid_token"}')])
    made = await client.post(
        f"{ORG}/settings/channels",
        data={
            "csrf_token": token,
            "kind": "slack",
            "name": "team",
            "config.webhook_url": f"{receiver.url}/slack/T0/B0/X",
        },
        headers=HTML,
    )
    assert made.status_code == 303, made.text
    path = made.headers["location"]

    tested = await client.post(f"{path}/test", data={"csrf_token": token}, headers=HTML)
    assert "Test failed (200): Slack answered: invalid_token" in tested.text
    assert len(receiver.on("/slack/")) == 1
    page = (await client.get(path, headers=HTML)).text
    last_error = re.search(r"<dt>Last error</dt><dd>(.*?)</dd>", page, re.S)
    assert last_error is not None and "Slack answered: invalid_token" in last_error.group(1)
    assert (
        "Slack answered: invalid_token"
        in (await client.get(f"{ORG}/settings/channels", headers=HTML)).text
    )
