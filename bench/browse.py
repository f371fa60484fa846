"""How fast is browsing and exporting a big stream through JetDeck? In one run, on a stream of
1,000,000 small messages in a nats-server started here on a free loopback port:

  - p50 / p99 latency of `GET …/streams/BENCH/messages?limit=100&start_seq=<random>` through
    the real HTTP app (uvicorn, one worker, 127.0.0.1, authenticated with an API key),
    beside a raw nats-py baseline doing the same batched direct gets (100 messages) without
    HTTP, at the same positions;
  - export throughput (`GET …/messages/export`, NDJSON, the whole stream) in messages/s,
    beside the raw nats-py baseline reading every message with the same direct-get batches.

Targets: page p99 <= 50 ms; export >= 50% of the baseline.

    JETDECK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    JETDECK_TEST_REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/browse.py

Without those variables an embedded PostgreSQL and Redis are started. Options: `--messages`
(default 1,000,000), `--pages` (default 500), `--seed`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import backing_services, running_app  # noqa: E402

STREAM = "BENCH"
PAGE = 100
BATCH = 256


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _stored(nc: Any) -> int:
    info = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{STREAM}", b"", timeout=5)).data)
    return int(info["state"]["messages"])


async def fill(nc: Any, count: int) -> float:
    """Publish `count` small messages (core publishes, flushed in batches: the stream stores
    them without an ack round trip each), then wait until the stream holds them all. A busy
    server may drop core publishes (no ack to retry on): once the count stops growing, the
    missing ones are published again, until the stream holds `count`."""
    started = time.perf_counter()
    have, still = 0, 0
    while have < count:
        for start in range(have, count, 10_000):
            for i in range(start, min(start + 10_000, count)):
                await nc.publish(f"bench.{i % 16}", b'{"order":%d,"qty":3}' % i)
            await nc.flush(timeout=30)
        while True:
            await asyncio.sleep(0.2)
            now = await _stored(nc)
            if now >= count:
                return time.perf_counter() - started
            still = still + 1 if now == have else 0
            have = now
            if still >= 10:  # two seconds without one more stored: the rest were dropped
                still = 0
                break
    return time.perf_counter() - started


class RawDirectGet:
    """The baseline: batched direct gets with nats-py alone (one muxed inbox, like JetDeck)."""

    def __init__(self, nc: Any):
        self.nc = nc
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def start(self) -> None:
        self.inbox = self.nc.new_inbox()

        async def put(msg: Any) -> None:
            self.queue.put_nowait(msg)

        await self.nc.subscribe(self.inbox, cb=put)

    async def batch(self, seq: int, size: int) -> list[Any]:
        await self.nc.publish(
            f"$JS.API.DIRECT.GET.{STREAM}",
            json.dumps({"seq": seq, "batch": size}).encode(),
            reply=self.inbox,
        )
        out: list[Any] = []
        while True:
            msg = await asyncio.wait_for(self.queue.get(), 5)
            if not msg.data and msg.headers and msg.headers.get("Status"):
                return out
            out.append(msg)


async def measure(
    base: str, key: str, servers: list[str], user: str, password: str, args: argparse.Namespace
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    nc = await nats.connect(servers, user=user, password=password)
    raw = RawDirectGet(nc)
    await raw.start()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        response = await http.post(
            "/api/v1/orgs/bench/clusters",
            json={
                "name": "bench",
                "servers": servers,
                "auth": {"type": "user_password", "username": user, "password": password},
            },
        )
        assert response.status_code == 201, response.text
        path = f"/api/v1/orgs/bench/clusters/bench/streams/{STREAM}/messages"
        created = await http.post(
            "/api/v1/orgs/bench/clusters/bench/streams",
            json={"name": STREAM, "subjects": ["bench.>"], "storage": "file", "allow_direct": True},
        )
        assert created.status_code == 201, created.text
        seconds = await fill(nc, args.messages)
        print(f"stream: {args.messages:,} messages published and stored in {seconds:.1f} s")

        rng = random.Random(args.seed)
        positions = [rng.randint(1, args.messages - PAGE + 1) for _ in range(args.pages)]
        for seq in positions[:20]:  # warm both paths
            await http.get(path, params={"start_seq": seq, "limit": PAGE})
            await raw.batch(seq, PAGE)
        api_ms, raw_ms = [], []
        for seq in positions:
            t = time.perf_counter()
            page = await http.get(path, params={"start_seq": seq, "limit": PAGE})
            api_ms.append((time.perf_counter() - t) * 1000)
            assert page.status_code == 200 and len(page.json()["messages"]) == PAGE, page.text
            t = time.perf_counter()
            got = await raw.batch(seq, PAGE)
            raw_ms.append((time.perf_counter() - t) * 1000)
            assert len(got) == PAGE
        print(f"\npage of {PAGE} at random positions ({args.pages} requests, one in flight)")
        print(f"  {'':28} {'p50 ms':>8} {'p99 ms':>8}")
        print(f"  {'JetDeck HTTP API':28} {pct(api_ms, 50):8.2f} {pct(api_ms, 99):8.2f}")
        print(f"  {'raw nats-py direct get':28} {pct(raw_ms, 50):8.2f} {pct(raw_ms, 99):8.2f}")
        print(f"  target p99 <= 50 ms: {'met' if pct(api_ms, 99) <= 50 else 'MISSED'}")

        t = time.perf_counter()
        lines = 0
        async with http.stream("GET", path + "/export", params={"format": "ndjson"}) as export:
            assert export.status_code == 200
            async for chunk in export.aiter_bytes():
                lines += chunk.count(b"\n")
        api_s = time.perf_counter() - t
        assert lines == args.messages, lines
        t = time.perf_counter()
        seq, read = 1, 0
        while True:
            got = await raw.batch(seq, BATCH)
            if not got:
                break
            read += len(got)
            seq = int(got[-1].headers["Nats-Sequence"]) + 1
        raw_s = time.perf_counter() - t
        assert read == args.messages, read
        api_rate, raw_rate = lines / api_s, read / raw_s
        print(f"\nexport of {args.messages:,} messages")
        print(f"  {'JetDeck HTTP export (NDJSON)':32} {api_rate:12,.0f} msgs/s  ({api_s:.1f} s)")
        print(f"  {'raw nats-py direct get':32} {raw_rate:12,.0f} msgs/s  ({raw_s:.1f} s)")
        print(
            f"  ratio {api_rate / raw_rate:.0%} of the baseline; target >= 50%: "
            f"{'met' if api_rate >= raw_rate / 2 else 'MISSED'}"
        )
        print(
            f"\n(one uvicorn worker; client, app, nats-server and databases share "
            f"{os.cpu_count()} CPUs)"
        )
    await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    from services.embedded.nats import APP_USER, NatsDeployment

    tmp = Path(tempfile.mkdtemp(prefix="jetdeck-bench-nats-"))
    deployment = NatsDeployment.plan(
        tmp,
        size=1,
        app_password=secrets.token_urlsafe(12),
        system_password=secrets.token_urlsafe(12),
    ).start()
    try:
        with backing_services() as (admin_url, redis_url), running_app(admin_url, redis_url) as app:
            asyncio.run(
                measure(
                    app.base, app.api_key, deployment.urls, APP_USER, deployment.app_password, args
                )
            )
    finally:
        deployment.stop()
        deployment.wipe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
