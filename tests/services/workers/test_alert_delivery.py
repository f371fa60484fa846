"""A worker killed mid-delivery loses nothing: its claim is swept back to pending and a
restarted worker sends the notification again under the same `webhook-id`, for the receiver
to deduplicate. And a real collection cycle evaluates the rules and queues the delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from shared.db.base import utcnow
from shared.notify.models import Delivery, DeliveryAttempt
from shared.notify.outbox import sweep
from tests.services.workers.test_collect_metrics import collector_env  # noqa: F401 (fixture)
from tests.shared.alerts.conftest import alerting  # noqa: F401 (the fixture)

# A worker process as far as delivery goes: every model mapped, then `deliver`.
WORKER = """
import asyncio, sys
import shared.db.models
from shared.backends import Backends
from shared.config import load_settings
from shared.notify.outbox import deliver

async def main():
    backends = Backends.open(load_settings())
    print(await deliver(backends, sys.argv[1]), flush=True)

asyncio.run(main())
"""


def worker_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(
        JETDECK_ENV="test",
        JETDECK_BROKER="stub",
        JETDECK_DATABASE_URL=settings.database.url,
        JETDECK_ENCRYPTION_KEY=settings.app.encryption_key,
        JETDECK_SECRET_KEY=settings.app.secret_key,
        JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS="true",
    )
    return env


async def test_a_worker_killed_mid_call_is_resent_under_the_same_webhook_id(
    alerting,  # noqa: F811
    receiver,
    nats_server,
):
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(
        condition={"metric": "consumer.num_pending", "op": ">", "threshold": 1},
        channels=[str(hook.id)],
    )
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    receiver.hold("/hook")

    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        delivery_id,
        env=worker_env(alerting.backends.settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not receiver.on("/hook") and time.monotonic() < deadline:
            assert worker.returncode is None, "the worker ended before calling the receiver"
            await asyncio.sleep(0.05)
        assert receiver.on("/hook"), "the worker never called the receiver"
        worker.send_signal(signal.SIGKILL)
        await asyncio.wait_for(worker.wait(), 10)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    receiver.release()

    async with alerting.backends.database.session() as session:
        stuck = await session.get(Delivery, delivery_id)
        assert stuck is not None and stuck.state == "sending" and stuck.attempts == 1

    # After the restart the sweeper finds the stale claim (its clock moved on past
    # `stale_after_seconds`) and hands it out again; a new worker process sends it.
    later = utcnow() + timedelta(seconds=alerting.backends.settings.notify.stale_after_seconds + 1)
    assert await sweep(alerting.backends, now=later) == [delivery_id]
    restarted = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        delivery_id,
        env=worker_env(alerting.backends.settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(restarted.communicate(), 60)
    assert restarted.returncode == 0, err.decode()
    assert "state='sent'" in out.decode()

    first, second = receiver.on("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert hook.signing_secret is not None
    for call in (first, second):
        body = Webhook(hook.signing_secret).verify(call.body, call.headers)
        assert body["type"] == "alert.firing"
        assert body["data"]["target"] == {"cluster": "main", "stream": "ORDERS", "consumer": "c1"}
    async with alerting.backends.database.session() as session:
        attempts = (
            await session.scalars(
                select(DeliveryAttempt.outcome)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.number)
            )
        ).all()
    assert attempts == ["interrupted", "sent"]


async def test_a_collection_cycle_evaluates_the_rules_and_the_worker_delivers_the_alert(
    alerting,  # noqa: F811
    receiver,
    nats_server,
    collector_env,  # noqa: F811
    stub_broker,
    monkeypatch,
):
    from services.workers.actors import collect_metrics
    from shared.config import get_settings
    from tests.services.workers.test_collect_metrics import run_queued

    monkeypatch.setenv("JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS", "true")
    get_settings.cache_clear()
    nc = await nats_server.connect()
    js = nc.jetstream()
    await js.add_stream(name="EVENTS", subjects=["events.>"], storage="memory")
    for _ in range(3):
        await js.publish("events.x", b"x")
    await nc.close()
    cluster = await alerting.cluster(nats_server)
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(
        condition={"metric": "stream.messages", "op": ">=", "threshold": 3},
        channels=[str(hook.id)],
    )

    collect_metrics.send(cluster[0], int(alerting.at(0).timestamp()))
    run_queued(stub_broker)

    (call,) = receiver.on("/hook")
    assert call.json()["data"]["target"] == {"cluster": "main", "stream": "EVENTS"}
    assert call.json()["data"]["value"] == 3
