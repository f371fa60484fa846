"""How long does alert evaluation take on a large cluster, and how soon does a breach reach
the receiver?

Starts its own 3-node nats-server cluster (loopback, memory storage, system account) with
`--streams` streams (default 2,000) and `--consumers-per-stream` consumers each (default 5:
10,000), registers it in a throwaway PostgreSQL database with 50 alert rules (thresholds on
consumers, streams, rates, accounts, servers, the cluster, io.nats.monitor metadata) and a
webhook channel pointed at a loopback receiver, then prints, in one run:

  - the collection cycle (JSZ → samples → chDB): the baseline,
  - `evaluate_rules` on that cycle's samples, steady state (no state changes),
  - the latency from the start of the breaching cycle (one consumer's backlog crosses a
    threshold) to the receiver having the signed webhook (collect + evaluate + deliver),
  - a storm: a rule every one of the 10,000 consumers breaches at once (10,000 alerts fire,
    grouped into one message per channel).

    .venv/bin/python bench/alerts.py [--streams 2000] [--consumers-per-stream 5] [--rounds 5]

Targets (issue 10): evaluation <= 500 ms per cycle; breach to receiver <= collection
interval + 5 s (the breach is seen by the next cycle, at most one interval later, then this
latency). Nothing here asserts them: it prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import admin_sql, backing_services, with_database  # noqa: E402
from bench.collect import (  # noqa: E402
    APP_PASSWORD,
    SYSTEM_PASSWORD,
    line,
    populate,
    summary,
    wait_for_jetstream,
)
from services.embedded.nats import APP_USER, SYSTEM_USER, NatsDeployment  # noqa: E402

INTERVAL = 10


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.arrivals.append((time.perf_counter(), body))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def fifty_rules(channel: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []

    def add(name: str, condition: dict[str, Any], **extra: Any) -> None:
        rules.append({"name": name, "condition": condition, "channels": [channel], **extra})

    lag = {"metric": "consumer.num_pending", "op": ">"}
    add("S0 backlog", {**lag, "threshold": 50}, scope={"stream": "S0"})  # the latency probe
    for i in range(1, 20):
        add(f"backlog S{i}*", {**lag, "threshold": 1000}, scope={"stream": f"S{i}*"})
    for j in range(10):
        add(
            f"ack pending C{j % 5}",
            {"metric": "consumer.num_ack_pending", "op": ">", "threshold": 100 + j},
            scope={"consumer": f"C{j % 5}"},
        )
    for k in range(5):
        add(f"stream size {k}", {"metric": "stream.messages", "op": ">", "threshold": 1e6 + k})
        add(f"ingest {k}", {"metric": "stream.ingest_rate", "op": ">", "threshold": 1000 + k})
    for k in range(3):
        add(
            f"drain {k}",
            {"metric": "consumer.time_to_drain_seconds", "op": ">", "threshold": 3600 + k},
        )
    add("old backlog", {"metric": "consumer.time_lag_seconds", "op": ">", "threshold": 600})
    add("storage", {"metric": "account.storage_ratio", "op": ">", "threshold": 0.9})
    add("memory", {"metric": "account.memory_ratio", "op": ">", "threshold": 0.9})
    add("server down", {"metric": "server.unreachable", "op": "==", "threshold": 1})
    add("cluster down", {"metric": "cluster.unreachable", "op": "==", "threshold": 1})
    add("natscli", {"kind": "nats_monitor_metadata"})
    add("natscli S1*", {"kind": "nats_monitor_metadata"}, scope={"stream": "S1*"})
    assert len(rules) == 50, len(rules)
    return rules


async def run(args: argparse.Namespace, admin_url: str, tmp: Path) -> None:
    from cryptography.fernet import Fernet

    name = f"jetdeck_bench_alerts_{uuid.uuid4().hex[:8]}"
    await admin_sql(admin_url, f"CREATE DATABASE {name}")
    database_url = with_database(admin_url, name)
    receiver = Receiver()
    os.environ.update(
        {
            "JETDECK_ENV": "development",
            "JETDECK_SECRET_KEY": secrets.token_urlsafe(48),
            "JETDECK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "JETDECK_DATABASE_URL": database_url,
            "JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS": "true",
            "JETDECK_LOG_LEVEL": "WARNING",
        }
    )
    from shared.db.migrate import upgrade_database

    await asyncio.to_thread(upgrade_database, database_url)
    deployment = NatsDeployment.plan(
        tmp / "nats", size=3, app_password=APP_PASSWORD, system_password=SYSTEM_PASSWORD
    )
    deployment.max_memory = "4G"
    deployment.start()
    try:
        nc = await nats.connect(
            deployment.urls, user=APP_USER, password=APP_PASSWORD, max_reconnect_attempts=-1
        )
        await wait_for_jetstream(nc)
        print("\nSet-up", flush=True)
        await populate(nc, args.streams, args.consumers_per_stream, args.concurrency)
        await measure(args, deployment, nc, receiver, tmp)
        await nc.close()
    finally:
        deployment.stop()
        await admin_sql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def measure(
    args: argparse.Namespace, deployment: NatsDeployment, nc: Any, receiver: Receiver, tmp: Path
) -> None:
    import msgspec

    from shared.accounts.models import Organization
    from shared.accounts.principals import OrgContext, Principal
    from shared.accounts.roles import Role
    from shared.alerts import rules as rule_service
    from shared.alerts.evaluation import evaluate_rules
    from shared.alerts.metrics import Cycle
    from shared.alerts.schemas import RuleIn
    from shared.backends import Backends
    from shared.clusters.schemas import ClusterIn
    from shared.clusters.services import register_cluster
    from shared.config import MetricsSettings, get_settings
    from shared.metrics.clickhouse import ClickHouse
    from shared.metrics.collector import collect_cluster, cycle_time
    from shared.metrics.migrate import migrate_clickhouse
    from shared.metrics.targets import collection_target
    from shared.notify.channels import create_channel
    from shared.notify.outbox import deliver
    from shared.notify.schemas import ChannelIn

    get_settings.cache_clear()
    backends = Backends.open(get_settings())
    ch = ClickHouse(f"chdb://{tmp / 'chdb'}", "jetdeck_bench")
    await migrate_clickhouse(ch)
    assert backends.database is not None
    async with backends.database.session() as session:
        org = Organization(slug="bench", name="Bench")
        session.add(org)
        await session.flush()
    principal = Principal(kind="user", id=uuid.uuid4(), label="bench", user_id=None)
    ctx = OrgContext(org.id, org.slug, Role.ADMIN, principal, org.name)
    auth = {"type": "user_password"}
    cluster = await register_cluster(
        backends,
        ctx,
        msgspec.convert(
            {
                "name": "bench",
                "servers": deployment.urls,
                "auth": {**auth, "username": APP_USER, "password": APP_PASSWORD},
                "system_auth": {**auth, "username": SYSTEM_USER, "password": SYSTEM_PASSWORD},
            },
            ClusterIn,
        ),
    )
    channel = await create_channel(
        backends, ctx, ChannelIn(name="hook", kind="webhook", config={"url": receiver.url})
    )
    for body in fifty_rules(str(channel.id)):
        await rule_service.create_rule(backends, ctx, msgspec.convert(body, RuleIn))
    target = await collection_target(backends, str(cluster.id))
    assert target is not None
    metrics = MetricsSettings(time_lag_reads=100, jsz_timeout=30)
    base = cycle_time(INTERVAL)
    step = [0]
    eval_cpu: list[float] = []  # this process's CPU time in evaluate_rules (load-independent)

    async def one_cycle() -> tuple[float, float, list[str], float]:
        step[0] += 1
        started = time.perf_counter()
        result = await collect_cluster(
            ch, backends.nats, target, base + timedelta(seconds=INTERVAL * step[0]), metrics
        )
        collected, cpu = time.perf_counter(), time.process_time()
        queued = await evaluate_rules(
            backends,
            Cycle(str(cluster.id), "bench", result.ts, result.collection),
        )
        evaluated = time.perf_counter()
        eval_cpu.append(time.process_time() - cpu)
        await asyncio.gather(*(deliver(backends, d) for d in queued))
        return collected - started, evaluated - collected, queued, started

    try:
        await one_cycle()  # first cycle: counters and rates start here
        collect_times, eval_times = [], []
        for _ in range(args.rounds):
            c, e, queued, _ = await one_cycle()
            collect_times.append(c)
            eval_times.append(e)
            if queued:  # e.g. a server too slow to answer JSZ on a loaded machine
                from shared.alerts.services import list_alerts

                fired = await list_alerts(backends, ctx, state="firing")
                line(
                    "  note: alerts fired during the steady state",
                    ", ".join(sorted({f"{a.rule.name} {a.target}" for a in fired.items}))[:200],
                )
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            await one_cycle()
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        print("\nPer cycle, 50 rules, steady state (no alert changes state)", flush=True)
        line("collection cycle (JSZ → samples → chDB), the baseline", summary(collect_times))
        line("evaluate_rules on that cycle's samples", summary(eval_times))
        line("  of which this process's CPU time", summary(eval_cpu[-len(eval_times) :]))
        print(f"  (load average while measuring: {os.getloadavg()[0]:.1f})", flush=True)

        print("\nBreach → receiver (consumer S0/C0 crosses 50 pending)", flush=True)
        js = nc.jetstream()
        await asyncio.gather(*(js.publish("s0.x", b"more") for _ in range(60)))
        latencies = []
        for _ in range(3):  # the consumers of S0 all breach: one grouped webhook
            before = len(receiver.arrivals)
            c, e, queued, started = await one_cycle()
            arrived = receiver.arrivals[before:]
            if queued and arrived:
                latencies.append(arrived[0][0] - started)
                line(
                    "  collect / evaluate of the breaching cycle",
                    f"{c * 1000:.0f} ms / {e * 1000:.0f} ms",
                )
                break
        if latencies:
            line("cycle start → signed webhook at the receiver", f"{latencies[0] * 1000:8.1f} ms")
            line(
                f"worst case with a {INTERVAL} s interval (breach just after a cycle)",
                f"{INTERVAL + latencies[0]:8.2f} s",
            )

        total = args.streams * args.consumers_per_stream
        print(f"\nStorm: a new rule every consumer breaches ({total:,} alerts at once)", flush=True)
        await rule_service.create_rule(
            backends,
            ctx,
            msgspec.convert(
                {
                    "name": "any backlog",
                    "condition": {"metric": "consumer.num_pending", "op": ">", "threshold": 0},
                    "channels": [str(channel.id)],
                },
                RuleIn,
            ),
        )
        before = len(receiver.arrivals)
        c, e, queued, _ = await one_cycle()
        line("evaluate_rules, storm cycle (inserts every alert)", f"{e * 1000:8.1f} ms")
        line(
            "deliveries queued / webhooks received",
            f"{len(queued)} / {len(receiver.arrivals) - before}",
        )
        times = []
        for _ in range(max(1, args.rounds // 2)):
            _, e, _, _ = await one_cycle()
            times.append(e)
        line(f"evaluate_rules, {total:,} alerts firing, no change", summary(times))
    finally:
        await backends.close()
        ch.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--consumers-per-stream", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--profile", action="store_true", help="profile one steady cycle")
    args = parser.parse_args()
    with (
        backing_services() as (admin_url, _redis),
        tempfile.TemporaryDirectory(prefix="jetdeck-bench-", ignore_cleanup_errors=True) as tmp,
    ):
        asyncio.run(run(args, admin_url, Path(tmp)))


if __name__ == "__main__":
    main()
