"""Alerting against real services: `alerting` → `Alerting`, with the test's organization,
settings pointed at the local receivers (`tests/fixtures/receivers.py`), and helpers:

- `await alerting.cluster(target, name="main")` → the registered cluster's (id, name);
  `target=None` registers one at an address nothing listens on (for synthetic cycles).
- `await alerting.channel(kind, **config)` → `ChannelOut`; `await alerting.rule(**fields)`.
- `await alerting.collect(cluster, t)` → delivery ids queued by a real collection of the
  cluster at cycle time `base + t` seconds, evaluated like the worker does.
- `await alerting.evaluate(cluster, t, collection)` → the same on a hand-made `Collection`
  (None: the cluster could not be collected).
- `await alerting.deliver(ids)` → the outcomes of sending them, transient failures retried
  (bounded) as the worker would.
- `await alerting.lagging(nats_server)` → a real breach: stream ORDERS with `backlog`
  messages unread by its durable consumer `c1`, the server registered as cluster `main`
  and one real collection of it evaluated; returns the delivery ids it queued.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from shared.accounts.principals import OrgContext, Principal
from shared.accounts.roles import Role
from shared.alerts import rules
from shared.alerts.evaluation import evaluate_rules
from shared.alerts.metrics import Cycle
from shared.alerts.schemas import RuleIn
from shared.backends import Backends
from shared.clusters import services as clusters
from shared.clusters.schemas import ClusterIn
from shared.metrics.collector import collect_cluster
from shared.metrics.samples import Collection, ConsumerSample, StreamSample
from shared.metrics.targets import collection_target
from shared.notify import channels
from shared.notify.outbox import Outcome, deliver
from shared.notify.schemas import ChannelIn, ChannelOut


def consumer(stream: str, name: str, *, pending: int = 0, **fields: Any) -> ConsumerSample:
    sample = ConsumerSample("", stream, name, None, pending, 0, 0, 0, 0, 0, 0, 0, None)
    for key, value in fields.items():
        setattr(sample, key, value)
    return sample


def stream(name: str, *, messages: int = 0, **fields: Any) -> StreamSample:
    sample = StreamSample("", name, None, messages, 0, 1, messages, None, 0, 0, 0)
    for key, value in fields.items():
        setattr(sample, key, value)
    return sample


class Alerting:
    def __init__(self, backends: Backends, ctx: OrgContext, clickhouse: Any):
        self.backends, self.ctx, self.clickhouse = backends, ctx, clickhouse
        # Cycle times on whole minutes in the past: the samples land in known buckets.
        self.base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)

    async def cluster(self, target: Any = None, name: str = "main") -> tuple[str, str]:
        servers = target.servers if target is not None else ["nats://127.0.0.1:1"]
        auth = (
            {"type": "user_password", "username": target.user, "password": target.password}
            if target is not None
            else {"type": "none"}
        )
        out = await clusters.register_cluster(
            self.backends,
            self.ctx,
            msgspec.convert({"name": name, "servers": servers, "auth": auth}, ClusterIn),
        )
        return str(out.id), name

    async def channel(self, kind: str, name: str | None = None, **config: Any) -> ChannelOut:
        return await channels.create_channel(
            self.backends,
            self.ctx,
            ChannelIn(name=name or kind, kind=kind, config=config),  # type: ignore[arg-type]
        )

    async def rule(self, **fields: Any) -> Any:
        body = {"name": "rule", "severity": "warning", **fields}
        return await rules.create_rule(self.backends, self.ctx, msgspec.convert(body, RuleIn))

    def at(self, t: float) -> datetime:
        return self.base + timedelta(seconds=t)

    async def collect(self, cluster: tuple[str, str], t: float) -> list[str]:
        target = await collection_target(self.backends, cluster[0])
        assert target is not None
        result = await collect_cluster(
            self.clickhouse, self.backends.nats, target, self.at(t), self.backends.settings.metrics
        )
        collection = result.collection if result.reachable else None
        return await evaluate_rules(
            self.backends, Cycle(cluster[0], cluster[1], result.ts, collection)
        )

    async def evaluate(
        self, cluster: tuple[str, str], t: float, collection: Collection | None
    ) -> list[str]:
        if collection is not None:
            collection.ts = self.at(t)
        return await evaluate_rules(
            self.backends, Cycle(cluster[0], cluster[1], self.at(t), collection)
        )

    def collection(
        self,
        cluster: tuple[str, str],
        *,
        streams: list[Any] = (),
        consumers: list[Any] = (),  # type: ignore[assignment]
    ) -> Collection:
        return Collection(
            str(self.ctx.org_id), cluster[0], self.base, list(streams), list(consumers)
        )

    async def lagging(self, nats_server: Any, *, backlog: int = 50, t: float = 0) -> list[str]:
        nc = await nats_server.connect()
        try:
            js = nc.jetstream()
            await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
            await js.add_consumer("ORDERS", durable_name="c1")
            for i in range(backlog):
                await js.publish("orders.new", f"order {i}".encode())
        finally:
            await nc.close()
        return await self.collect(await self.cluster(nats_server), t)

    async def deliver(self, ids: list[str], *, rounds: int = 10) -> list[Outcome]:
        outcomes = []
        for delivery_id in ids:
            outcome = await deliver(self.backends, delivery_id)
            for _ in range(rounds):
                if outcome.state not in ("retry", "held"):
                    break
                await asyncio.sleep(min(outcome.retry_in or 0, 5))
                outcome = await deliver(self.backends, delivery_id)
            outcomes.append(outcome)
        return outcomes


@pytest.fixture
async def alerting(notify_settings: Any, org: Any, clickhouse: Any) -> AsyncIterator[Alerting]:
    backends = Backends.open(notify_settings)
    principal = Principal(kind="user", id=uuid.uuid4(), label="editor@acme.test", user_id=None)
    ctx = OrgContext(org.id, org.slug, Role.ADMIN, principal, org.name)
    yield Alerting(backends, ctx, clickhouse)
    await backends.close()
