"""Demo streams and gentle live traffic for `jetdeck up`, so every page has numbers that move.

Three streams cover the three retention policies; durable consumers keep up at different
speeds, so some show lag. Traffic is a few messages a second and the streams are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from typing import Any

import nats
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError
from sqlalchemy import select

from shared.accounts.models import Organization
from shared.accounts.principals import operator_context
from shared.audit.changes import Actor
from shared.audit.trail import audited
from shared.backends import Backends
from shared.clusters.models import Cluster
from shared.clusters.schemas import AuthIn, ClusterIn
from shared.clusters.services import register_cluster

log = logging.getLogger("jetdeck.demo")

REGIONS = ("eu", "us", "ap")
EVENTS = ("created", "paid", "shipped", "cancelled")

STREAMS = [
    StreamConfig(
        name="ORDERS",
        description="Demo: orders by region and event (Limits)",
        subjects=["orders.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs=200_000,
        max_age=7 * 24 * 3600,
        discard=DiscardPolicy.OLD,
        allow_direct=True,
    ),
    StreamConfig(
        name="JOBS",
        description="Demo: a work queue; each job is taken once",
        subjects=["jobs.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        max_msgs=50_000,
        allow_direct=True,
    ),
    StreamConfig(
        name="EVENTS",
        description="Demo: kept while an interested consumer has not acked",
        subjects=["events.>"],
        retention=RetentionPolicy.INTEREST,
        storage=StorageType.FILE,
        max_msgs=50_000,
        allow_direct=True,
    ),
]

CONSUMERS = {
    "ORDERS": ["billing", "analytics"],
    "JOBS": ["workers"],
    "EVENTS": ["audit", "notifier"],
}


async def ensure_demo(js: Any) -> None:
    for config in STREAMS:
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            if exc.err_code != 10058:  # name in use: created on an earlier start
                raise
        for durable in CONSUMERS[config.name or ""]:
            await js.add_consumer(
                config.name,
                ConsumerConfig(
                    durable_name=durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    max_ack_pending=1000,
                    description=f"Demo consumer {durable}",
                ),
            )


async def _traffic(servers: list[str], user: str, password: str, stop: asyncio.Event) -> None:
    nc = await nats.connect(
        servers, user=user, password=password, name="jetdeck-demo", max_reconnect_attempts=-1
    )
    js = nc.jetstream()
    await ensure_demo(js)
    subs = {
        (stream, durable): await js.pull_subscribe_bind(durable=durable, stream=stream)
        for stream, durables in CONSUMERS.items()
        for durable in durables
    }
    # Consumers drain at different speeds so lag rises and falls.
    drain = {
        ("ORDERS", "billing"): 4,
        ("ORDERS", "analytics"): 1,
        ("JOBS", "workers"): 3,
        ("EVENTS", "audit"): 3,
        ("EVENTS", "notifier"): 1,
    }
    order = 0
    try:
        while not stop.is_set():
            order += 1
            region, event = random.choice(REGIONS), random.choice(EVENTS)
            body = {
                "order": order,
                "region": region,
                "event": event,
                "amount": round(random.uniform(5, 500), 2),
            }
            await js.publish(
                f"orders.{region}.{event}",
                json.dumps(body).encode(),
                headers={"Nats-Msg-Id": f"order-{order}-{event}"} if order % 7 else None,
            )
            await js.publish(
                f"jobs.{random.choice(('email', 'invoice'))}",
                json.dumps({"order": order}).encode(),
            )
            await js.publish(f"events.{event}", json.dumps({"order": order}).encode())
            for key, sub in subs.items():
                with contextlib.suppress(nats.errors.TimeoutError):
                    for msg in await sub.fetch(drain[key], timeout=0.2):
                        await msg.ack()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        await nc.close()


class DemoTraffic:
    """Runs the traffic generator on its own thread and event loop until stopped."""

    def __init__(self, servers: list[str], user: str, password: str):
        self.args = (servers, user, password)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="jetdeck-demo", daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(_traffic(*self.args, self._stop))
        except Exception:
            log.exception("demo traffic stopped on an error")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)


async def register_demo_cluster(settings: Any, credentials: dict[str, Any]) -> str | None:
    """Register the embedded NATS as cluster `demo` in the first organization (the oldest),
    once: nothing when there is no organization yet or it already has a `demo` cluster.
    Returns the organization's slug when it registered."""
    backends = Backends.open(settings)
    try:
        return await _register_demo(backends, credentials)
    except Exception:  # the demo is a convenience: never the reason `jetdeck up` fails
        log.exception("could not register the demo cluster")
        return None
    finally:
        await backends.close()


async def _register_demo(backends: Backends, credentials: dict[str, Any]) -> str | None:
    assert backends.database is not None
    async with backends.database.session() as session:
        org = await session.scalar(select(Organization).order_by(Organization.created_at))
        if org is None or await session.scalar(
            select(Cluster.id).where(Cluster.org_id == org.id, Cluster.name == "demo")
        ):
            return None
    ctx = operator_context(org.id, org.slug, org.name, "jetdeck up")
    async with audited(
        backends.database,
        "cluster.create",
        Actor("system", None, "jetdeck up"),
        org_ids=[org.id],
        user_agent="jetdeck up",
    ):
        await register_cluster(
            backends,
            ctx,
            ClusterIn(
                name="demo",
                servers=list(credentials["servers"]),
                environment="demo",
                auth=AuthIn(
                    type="user_password",
                    username=credentials["user"],
                    password=credentials["password"],
                ),
                system_auth=AuthIn(
                    type="user_password",
                    username=credentials["system_user"],
                    password=credentials["system_password"],
                ),
            ),
        )
    return str(org.slug)
