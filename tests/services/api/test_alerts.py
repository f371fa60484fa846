"""/api/v1/orgs/{org}: alert-rules (with preview), alerts, silences and
notification-channels: roles, 400s naming the field, write-only secrets, send test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from services.app import create_app

ORG = "/api/v1/orgs/acme"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/s3cr3tT0k3n"
LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 10, "for_seconds": 0}


@pytest.fixture
def app(notify_settings: Any) -> Any:
    return create_app(notify_settings)


async def test_viewers_read_alerts_editors_manage_rules_and_silences_admins_channels(
    client, auth_headers, receiver
):
    viewer, editor, admin = [await auth_headers(r) for r in ("viewer", "editor", "admin")]
    assert (await client.get(f"{ORG}/alerts", headers=viewer)).status_code == 200
    assert (await client.get(f"{ORG}/alert-rules", headers=viewer)).status_code == 200
    rule = {"name": "lag", "condition": LAG}
    assert (await client.post(f"{ORG}/alert-rules", json=rule, headers=viewer)).status_code == 403
    created = await client.post(f"{ORG}/alert-rules", json=rule, headers=editor)
    assert created.status_code == 201, created.text
    channel = {"name": "hook", "kind": "webhook", "config": {"url": f"{receiver.url}/hook"}}
    assert (
        await client.post(f"{ORG}/notification-channels", json=channel, headers=editor)
    ).status_code == 403
    assert (await client.get(f"{ORG}/notification-channels", headers=editor)).status_code == 403
    made = await client.post(f"{ORG}/notification-channels", json=channel, headers=admin)
    assert made.status_code == 201, made.text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    silence = {"matchers": {"stream": "ORDERS"}, "ends_at": tomorrow, "comment": "deploy"}
    assert (await client.post(f"{ORG}/silences", json=silence, headers=viewer)).status_code == 403
    silenced = await client.post(f"{ORG}/silences", json=silence, headers=editor)
    assert silenced.status_code == 201 and silenced.json()["active"]
    ended = await client.delete(f"{ORG}/silences/{silenced.json()['id']}", headers=editor)
    assert ended.status_code == 200 and not ended.json()["active"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition": {**LAG, "metric": "consumer.lagginess"}}, "condition.metric"),
        ({"condition": {**LAG, "op": "=>"}}, "condition.op"),
        ({"condition": {**LAG, "for_seconds": -5}}, "condition.for_seconds"),
        ({"condition": {"kind": "magic"}}, "condition.kind"),
        ({"channels": ["00000000-0000-0000-0000-000000000000"]}, "channels"),
        ({"channels": ["slack"]}, "channels"),
        ({"repeat_interval_seconds": -1}, "repeat_interval_seconds"),
        ({"scope": {"stream": "ORD[ERS"}}, "scope.stream"),
        ({"scope": {"consumer": "a b"}}, "scope.consumer"),
    ],
)
async def test_an_invalid_rule_is_a_400_naming_the_field(client, auth_headers, change, field):
    body = {"name": "lag", "condition": LAG, **change}
    response = await client.post(
        f"{ORG}/alert-rules", json=body, headers=await auth_headers("editor")
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"]["field"] == field
    assert field in response.json()["detail"]


async def test_channel_secrets_are_write_only_encrypted_and_redacted_in_the_audit_trail(
    client, auth_headers, accounts
):
    admin = await auth_headers("admin")
    made = await client.post(
        f"{ORG}/notification-channels",
        json={"name": "ops", "kind": "slack", "config": {"webhook_url": SLACK_URL}},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    channel_id = made.json()["id"]
    read = await client.get(f"{ORG}/notification-channels/{channel_id}", headers=admin)
    assert read.json()["config"] == {"webhook_url_set": True}
    renamed = await client.patch(
        f"{ORG}/notification-channels/{channel_id}", json={"name": "ops2"}, headers=admin
    )
    assert renamed.json()["config"] == {"webhook_url_set": True}
    events = await client.get(f"{ORG}/audit-events?action=notification_channel.*", headers=admin)
    assert len(events.json()["items"]) == 2
    async with accounts.backends.database.session() as session:
        stored = (
            await session.execute(text("SELECT config::text, secrets FROM notification_channels"))
        ).one()
    for place in (made.text, read.text, renamed.text, events.text, stored[0], stored[1]):
        assert "s3cr3tT0k3n" not in place


async def test_a_webhook_channel_shows_its_signing_secret_once_and_send_test_is_signed_with_it(
    client, auth_headers, receiver
):
    admin = await auth_headers("admin")
    made = await client.post(
        f"{ORG}/notification-channels",
        json={
            "name": "hook",
            "kind": "webhook",
            "config": {"url": f"{receiver.url}/hook", "headers": {"X-Team": "ops"}},
        },
        headers=admin,
    )
    secret = made.json()["signing_secret"]
    channel = f"{ORG}/notification-channels/{made.json()['id']}"
    assert (await client.get(channel, headers=admin)).json()["signing_secret"] is None

    tested = await client.post(f"{channel}/test", headers=admin)
    assert tested.status_code == 200 and tested.json()["ok"] and tested.json()["status_code"] == 200
    (call,) = receiver.on("/hook")
    assert call.headers["X-Team"] == "ops"
    assert Webhook(secret).verify(call.body, call.headers)["type"] == "test"

    rotated = await client.post(f"{channel}/rotate-secret", headers=admin)
    new_secret = rotated.json()["signing_secret"]
    assert new_secret and new_secret != secret
    await client.post(f"{channel}/test", headers=admin)
    assert Webhook(new_secret).verify(receiver.on("/hook")[1].body, receiver.on("/hook")[1].headers)

    deliveries = await client.get(f"{channel}/deliveries", headers=admin)
    assert [(d["event"], d["state"], d["attempts"]) for d in deliveries.json()["items"]] == [
        ("test", "sent", 1),
        ("test", "sent", 1),
    ]


async def test_preview_shows_what_a_rule_would_match_now_and_an_alert_is_acknowledged_by_an_editor(
    client, auth_headers, on_server, nats_server
):
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
    await js.pull_subscribe("orders.>", durable="billing", stream="ORDERS")
    await js.pull_subscribe("orders.>", durable="audit", stream="ORDERS")
    for _ in range(20):
        await js.publish("orders.new", b"x")
    await nc.close()
    editor = await auth_headers("editor")
    rule = await client.post(
        f"{ORG}/alert-rules",
        json={"name": "lag", "condition": LAG, "scope": {"consumer": "bill*"}},
        headers=editor,
    )
    preview = await client.post(f"{ORG}/alert-rules/{rule.json()['id']}/preview", headers=editor)
    assert preview.status_code == 200, preview.text
    assert preview.json()["targets"] == [
        {
            "target": {"cluster": "main", "stream": "ORDERS", "consumer": "billing"},
            "value": 20.0,
            "would_fire": True,
            "threshold": 10.0,
            "detail": None,
        }
    ]
    listed = await client.get(f"{ORG}/alerts", headers=await auth_headers("viewer"))
    assert listed.json() == {"items": [], "total": 0}  # a preview stores and sends nothing


async def test_viewers_list_and_read_alerts_and_editors_acknowledge_them(
    client, auth_headers, accounts
):
    from shared.alerts.evaluation import evaluate_rules
    from shared.alerts.metrics import Cycle
    from shared.db.base import utcnow
    from shared.metrics.samples import Collection, ConsumerSample

    admin, editor, viewer = [await auth_headers(r) for r in ("admin", "editor", "viewer")]
    cluster = await client.post(
        "/api/v1/orgs/acme/clusters",
        json={"name": "main", "servers": ["nats://127.0.0.1:1"]},
        headers=admin,
    )
    assert cluster.status_code == 201, cluster.text
    await client.post(
        f"{ORG}/alert-rules",
        json={"name": "lag", "severity": "critical", "condition": LAG},
        headers=editor,
    )
    lagging = ConsumerSample("", "ORDERS", "billing", None, 50, 0, 0, 0, 0, 0, 0, 0, None)
    now = utcnow()
    await evaluate_rules(
        accounts.backends,
        Cycle(cluster.json()["id"], "main", now, Collection("", "", now, consumers=[lagging])),
    )

    listed = await client.get(f"{ORG}/alerts?state=firing&severity=critical", headers=viewer)
    (alert,) = listed.json()["items"]
    assert alert["target"] == {"cluster": "main", "stream": "ORDERS", "consumer": "billing"}
    assert alert["rule"]["name"] == "lag" and alert["value"] == 50 and not alert["silenced"]
    assert (await client.get(f"{ORG}/alerts?state=resolved", headers=viewer)).json()["total"] == 0
    path = f"{ORG}/alerts/{alert['id']}"
    refused = await client.post(f"{path}/acknowledge", json={"comment": "x"}, headers=viewer)
    assert refused.status_code == 403
    acked = await client.post(f"{path}/acknowledge", json={"comment": "on it"}, headers=editor)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged"]["comment"] == "on it"
    detail = (await client.get(path, headers=viewer)).json()
    assert [e["kind"] for e in detail["events"]] == ["pending", "firing", "acknowledged"]
    assert detail["metric"] == "consumer.num_pending"
    bad = await client.get(f"{ORG}/alerts?state=burning", headers=viewer)
    assert bad.status_code == 400


async def test_a_deleted_channel_is_taken_off_the_rules_that_named_it(
    client, auth_headers, receiver
):
    admin = await auth_headers("admin")
    ids = []
    for name in ("a", "b"):
        made = await client.post(
            f"{ORG}/notification-channels",
            json={"name": name, "kind": "webhook", "config": {"url": f"{receiver.url}/{name}"}},
            headers=admin,
        )
        ids.append(made.json()["id"])
    rule = await client.post(
        f"{ORG}/alert-rules", json={"name": "lag", "condition": LAG, "channels": ids}, headers=admin
    )
    gone = await client.delete(f"{ORG}/notification-channels/{ids[0]}", headers=admin)
    assert gone.status_code == 204
    after = await client.get(f"{ORG}/alert-rules/{rule.json()['id']}", headers=admin)
    assert after.json()["channels"] == [ids[1]]
