"""The one broker module: imported before any actor is declared.

Redis in every deployment; `JETDECK_BROKER=stub` gives Dramatiq's in-memory StubBroker for
unit tests. The AsyncIO middleware lets actors be `async def`.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.asyncio import AsyncIO

from shared.config import Settings, get_settings


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.workers.broker == "stub":
        broker = StubBroker()
    else:
        settings.require("redis")
        broker = RedisBroker(url=settings.redis.url)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())  # `collect_metrics` reads its retries
    return broker


broker = build_broker(get_settings())
dramatiq.set_broker(broker)
