"""Load on loopback, bounded in time: how fast and how big is JetDeck under a team's use?

For each layout — `jetdeck up` (one process) and the production layout (`jetdeck serve` twice,
the bench's users spread over both as a load balancer would, + `jetdeck worker` +
`jetdeck scheduler`) — on a NATS holding 2,000 streams that the collector collects:

  1. browse: N signed-in users (invited viewers) each in a loop: list streams (`limit=50`),
     read a page of 50 messages at a random position, read a stream's chart;
  2. the same with T live tails (SSE) open as well, on a stream receiving messages;
  3. I idle SSE tails of a quiet stream: resident memory per connection.

Prints p50/p99 per route (and the p99 of each 5 s of a phase), errors (must be 0),
requests/s, tail messages received, peak RSS and CPU time of the process tree(s) per phase (CPU
per request says what a request costs however busy the machine is; the load average at the
phase's end says how busy it was), and the collector's last cycle time for the 2,000-stream
cluster (from `GET /metrics`). Each phase lasts `--seconds` (default 60). Everything binds
127.0.0.1; the client runs on the same machine, so its CPU competes with the server's.

    .venv/bin/python bench/load.py [--layout up|prod|both] [--seconds 60] [--users 50]
        [--tails 200] [--idle 1000] [--streams 2000] [--big 300] [--keep]

The production layout needs PostgreSQL (JETDECK_TEST_DATABASE_URL, else an embedded one);
Redis is embedded unless JETDECK_TEST_REDIS_URL is set. Without a ClickHouse server on this
machine each process gets its own chDB (chDB is in-process): the worker's holds the history,
the serve processes' are empty (their charts answer 200 with empty series).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import admin_sql, backing_services, with_database  # noqa: E402
from services.embedded.process import free_port  # noqa: E402
from shared.runtime import settle_heap  # noqa: E402

PASSWORD = "bench password 123456"  # noqa: S105 - throwaway bench users
ORG = "bench"
JETDECK = [sys.executable, "-m", "services"]
SLICE = 5.0  # seconds: the browse requests' p99 is also printed for each part of a phase


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---- memory ---------------------------------------------------------------------------------


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares bytes per connection over (connections, RSS) points."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return float("nan")
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


class RssSampler:
    """The summed RSS of the given processes and all their children, every 0.25 s."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def reset(self) -> None:
        self.peak = self.now()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the processes and their live children used so far: what
        a request costs the server, however busy the machine is (latencies are not)."""
        total = 0.0
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = p.cpu_times()
                        total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, self.now())

    def stop(self) -> None:
        self._stop.set()


# ---- layouts --------------------------------------------------------------------------------


@dataclass
class Layout:
    name: str
    bases: list[str]  # HTTP front doors (users are spread over them)
    pids: list[int]  # roots of the process trees measured
    cluster: str = "load"
    register: dict[str, Any] | None = None  # the cluster to register, if not there already
    env: dict[str, str] = field(default_factory=dict)  # for `jetdeck users create`
    cli_args: list[str] = field(default_factory=list)


def wait_healthy(base: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{base} did not answer /healthz within {within:.0f} s")


BENCH_ENV = {
    # The bench opens more tails per user than the default allows (documented in the output).
    "JETDECK_MESSAGES_TAILS_PER_USER": "50",
    "JETDECK_MESSAGES_TAILS_PER_PROCESS": "5000",
    "JETDECK_LOG_LEVEL": "WARNING",
    # `GET /metrics` (closed by default) for the collector's cycle time at the end.
    "JETDECK_METRICS_PUBLIC": "true",
}


@contextlib.contextmanager
def up_layout(tmp: Path) -> Iterator[Layout]:
    port = free_port()
    data_dir = tmp / "up"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(BENCH_ENV)
    proc = subprocess.Popen(
        [*JETDECK, "up", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "up.log", "wb"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, 240)
        yield Layout(
            "jetdeck up",
            [base],
            [proc.pid],
            cluster="demo",
            env=env,
            cli_args=["--data-dir", str(data_dir)],
        )
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def prod_layout(tmp: Path) -> Iterator[Layout]:
    from cryptography.fernet import Fernet

    from services.embedded.nats import APP_USER, SYSTEM_USER, NatsDeployment

    app_password, system_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    nats = NatsDeployment.plan(
        tmp / "nats", size=1, app_password=app_password, system_password=system_password
    ).start()
    procs: list[subprocess.Popen[bytes]] = []
    with backing_services() as (admin_url, redis_url):
        name = f"jetdeck_load_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin_sql(admin_url, f"CREATE DATABASE {name}"))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
        base_env.update(BENCH_ENV)
        base_env.update(
            {
                "JETDECK_ENV": "development",
                "JETDECK_SECRET_KEY": secrets.token_urlsafe(48),
                "JETDECK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "JETDECK_DATABASE_URL": with_database(admin_url, name),
                "JETDECK_REDIS_URL": redis_url,
            }
        )

        def env_for(role: str) -> dict[str, str]:
            return {**base_env, "JETDECK_CLICKHOUSE_URL": f"chdb://{tmp / ('ch-' + role)}"}

        def start(args: list[str], role: str) -> subprocess.Popen[bytes]:
            proc = subprocess.Popen(
                [*JETDECK, *args],
                env=env_for(role),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(tmp / f"{role}.log", "wb"),
            )
            procs.append(proc)
            return proc

        try:
            for role in ("worker", "serve1", "serve2"):
                subprocess.run([*JETDECK, "migrate"], env=env_for(role), cwd=ROOT, check=True)
            ports = [free_port(), free_port()]
            servers = [
                start(["serve", "--port", str(p)], f"serve{i + 1}") for i, p in enumerate(ports)
            ]
            worker = start(["worker"], "worker")
            start(["scheduler"], "worker-scheduler")  # chDB unused by the scheduler
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                wait_healthy(base)
            yield Layout(
                "production (2 x serve + worker + scheduler)",
                bases,
                [p.pid for p in servers] + [worker.pid],
                register={
                    "name": "load",
                    "servers": nats.urls,
                    "auth": {
                        "type": "user_password",
                        "username": APP_USER,
                        "password": app_password,
                    },
                    "system_auth": {
                        "type": "user_password",
                        "username": SYSTEM_USER,
                        "password": system_password,
                    },
                    "environment": "bench",
                },
                env=env_for("worker"),
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            nats.stop()
            asyncio.run(admin_sql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# ---- users, cluster, streams ----------------------------------------------------------------


def create_owner(layout: Layout, email: str) -> None:
    subprocess.run(
        [
            *JETDECK,
            "users",
            "create",
            *layout.cli_args,
            "--email",
            email,
            "--org",
            ORG,
            "--password-stdin",
        ],
        input=(PASSWORD + "\n").encode(),
        env=layout.env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def login(http: httpx.AsyncClient, base: str, email: str) -> dict[str, str]:
    for _ in range(20):
        r = await http.post(
            base + "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        if r.status_code == 200:
            return {"Authorization": f"Bearer {r.json()['access_token']}"}
        await asyncio.sleep(1)
    raise SystemExit(f"login of {email} failed: {r.status_code} {r.text}")


async def prepare(
    layout: Layout, args: argparse.Namespace
) -> tuple[list[dict[str, str]], dict[str, str], str]:
    """Owner, cluster, streams, viewers: the viewers' and the owner's auth headers and the
    cluster's path."""
    base = layout.bases[0]
    owner_email = "owner@bench.example"
    create_owner(layout, owner_email)
    async with httpx.AsyncClient(timeout=60) as http:
        owner = await login(http, base, owner_email)
        clusters_path = f"{base}/api/v1/orgs/{ORG}/clusters"
        if layout.register:
            r = await http.post(clusters_path, json=layout.register, headers=owner)
            assert r.status_code == 201, r.text
        for _ in range(120):  # `jetdeck up` registers its demo cluster shortly after the owner
            names = [
                c["name"] for c in (await http.get(clusters_path, headers=owner)).json()["items"]
            ]
            if layout.cluster in names:
                break
            await asyncio.sleep(1)
        cluster = f"/api/v1/orgs/{ORG}/clusters/{layout.cluster}"
        gate = asyncio.Semaphore(16)

        async def call(method: str, path: str, body: Any) -> None:
            async with gate:
                r = await http.request(method, base + cluster + path, json=body, headers=owner)
                assert r.status_code < 300, (path, r.status_code, r.text)

        started = time.perf_counter()
        await asyncio.gather(
            *(
                call(
                    "POST",
                    "/streams",
                    {"name": f"LOAD{i:04}", "subjects": [f"load.{i}.>"], "storage": "memory"},
                )
                for i in range(args.streams)
            )
        )
        for name, subject in (("PAGES", "pages.>"), ("LIVE", "live.>"), ("QUIET", "quiet.>")):
            await call(
                "POST",
                "/streams",
                {"name": name, "subjects": [subject], "allow_direct": True, "storage": "file"},
            )
        await asyncio.gather(
            *(
                call(
                    "POST",
                    "/streams/PAGES/messages",
                    {"subject": f"pages.{i % 8}", "text": json.dumps({"order": i, "qty": 3})},
                )
                for i in range(2000)
            )
        )
        if args.big:
            await call(
                "POST",
                "/streams",
                {"name": "BIG", "subjects": ["big.>"], "allow_direct": True, "storage": "file"},
            )
            payload = "x" * 1_000_000
            for _ in range(args.big):
                await call("POST", "/streams/BIG/messages", {"subject": "big.x", "text": payload})
        print(f"  {args.streams} streams + 2,000 messages in {time.perf_counter() - started:.0f} s")
        viewers = []
        for i in range(args.users):
            email = f"user{i}@bench.example"
            r = await http.post(
                f"{base}/api/v1/orgs/{ORG}/members",
                json={"email": email, "role": "viewer"},
                headers=owner,
            )
            assert r.status_code == 201, r.text
            r = await http.post(
                f"{base}/api/v1/invitations/{r.json()['token']}/accept",
                json={"password": PASSWORD, "name": f"User {i}"},
            )
            assert r.status_code == 200, r.text
            viewers.append(await login(http, layout.bases[i % len(layout.bases)], email))
    return viewers, owner, cluster


# ---- load -----------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # (when it ended, seconds) of every browse request: the p99 of each part of the phase
    timeline: list[tuple[float, float]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    tail_messages: int = 0
    tail_skipped: int = 0
    tail_errors: list[str] = field(default_factory=list)


def user_clients(count: int) -> list[httpx.AsyncClient]:
    """Each user's own connections, as each browser has its own, made before the load starts
    (a browser is open before its user clicks) and with one TLS context between them (httpx
    builds one per client otherwise, tens of milliseconds of the client's CPU each). One client
    shared by all the users made the bench measure itself: httpx checks every pooled
    connection's socket on each request, and with 50 connections the client's loop, not the
    server, set the pace (p99 about 1 s while the server's handlers took 8-17 ms on average)."""
    context = ssl.create_default_context()
    return [
        httpx.AsyncClient(timeout=30, verify=context, limits=httpx.Limits(max_connections=2))
        for _ in range(count)
    ]


async def user_loop(
    http: httpx.AsyncClient,
    base: str,
    cluster: str,
    auth: dict[str, str],
    stop: float,
    stats: Stats,
) -> None:
    routes: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("list streams", f"{cluster}/streams", lambda: {"limit": 50}),
        (
            "page of 50",
            f"{cluster}/streams/PAGES/messages",
            lambda: {"limit": 50, "start_seq": random.randint(1, 1950)},
        ),
        ("chart", f"{cluster}/streams/PAGES/metrics", lambda: {"series": "messages,ingest_rate"}),
    ]
    while time.monotonic() < stop:
        name, path, params = random.choice(routes)
        started = time.perf_counter()
        try:
            r = await http.get(base + path, params=params(), headers=auth)
            ok = r.status_code == 200
            detail = f"{r.status_code} {r.text[:120]}"
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        stats.latencies[name].append(elapsed)
        stats.timeline.append((time.monotonic(), elapsed))
        if not ok:
            stats.errors[name].append(detail)


async def tail(
    http: httpx.AsyncClient,
    base: str,
    cluster: str,
    auth: dict[str, str],
    subject: str,
    stream: str,
    stats: Stats,
    opened: asyncio.Event | None = None,
) -> None:
    try:
        async with http.stream(
            "GET",
            f"{base}{cluster}/streams/{stream}/messages/tail",
            params={"subject": subject},
            headers=auth,
            timeout=httpx.Timeout(30, read=None),  # a quiet tail may stay silent for long
        ) as r:
            if r.status_code != 200:
                stats.tail_errors.append(f"{r.status_code} {(await r.aread())[:120]!r}")
                return
            if opened is not None:
                opened.set()
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "message":
                        stats.tail_messages += 1
                    elif event == "skipped":
                        stats.tail_skipped += json.loads(line[5:])["skipped"]
    except (httpx.HTTPError, asyncio.CancelledError) as exc:
        if not isinstance(exc, asyncio.CancelledError):
            stats.tail_errors.append(f"{type(exc).__name__}: {exc}")


async def open_tails(
    http: httpx.AsyncClient,
    bases: list[str],
    cluster: str,
    viewers: list[dict[str, str]],
    stats: Stats,
    count: int,
    stream: str,
    subject: Any,
    wave: int = 50,
) -> list[asyncio.Task[None]]:
    """`count` tails, opened `wave` at a time (each wave answered before the next, as users
    arrive, not all in the same millisecond): the running tasks."""
    tasks: list[asyncio.Task[None]] = []
    for start in range(0, count, wave):
        opened = [asyncio.Event() for _ in range(start, min(start + wave, count))]
        errors_before = len(stats.tail_errors)
        for n, i in enumerate(range(start, min(start + wave, count))):
            base, auth = bases[i % len(bases)], viewers[i % len(viewers)]
            tasks.append(
                asyncio.create_task(
                    tail(http, base, cluster, auth, subject(i), stream, stats, opened[n])
                )
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = sum(e.is_set() for e in opened) + len(stats.tail_errors) - errors_before
            if done >= len(opened):
                break
            await asyncio.sleep(0.1)
    return tasks


async def publisher(
    http: httpx.AsyncClient,
    base: str,
    cluster: str,
    auth: dict[str, str],
    stop: float,
    stats: Stats,
) -> None:
    """About 20 messages a second into LIVE (what the tails receive)."""
    i = 0
    while time.monotonic() < stop:
        started = time.perf_counter()
        r = await http.post(
            f"{base}{cluster}/streams/LIVE/messages",
            json={"subject": f"live.{i % 4}", "text": f"event {i}"},
            headers=auth,
        )
        stats.latencies["publish"].append(time.perf_counter() - started)
        if r.status_code != 201:
            stats.errors["publish"].append(f"{r.status_code} {r.text[:120]}")
        i += 1
        await asyncio.sleep(0.05)


def report(title: str, stats: Stats, seconds: float, rss_peak: int, cpu: float) -> None:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(len(v) for v in stats.errors.values())
    print(
        f"  {title}: {total / seconds:.0f} requests/s, errors {errors}, "
        f"peak RSS {rss_peak / 2**20:.0f} MiB, server CPU {cpu:.1f} s "
        f"({cpu / max(total, 1) * 1000:.1f} ms a request), load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    for name, values in sorted(stats.latencies.items()):
        print(
            f"    {name:13} n={len(values):6}  p50 {pct(values, 50) * 1000:7.1f} ms  "
            f"p99 {pct(values, 99) * 1000:7.1f} ms  errors {len(stats.errors[name])}"
        )
    if stats.timeline:
        began = min(t - e for t, e in stats.timeline)
        slices: dict[int, list[float]] = defaultdict(list)
        for ended, elapsed in stats.timeline:
            slices[int((ended - began) // SLICE)].append(elapsed)
        print(
            f"    p99 of each {SLICE:g} s: "
            + ", ".join(f"{pct(v, 99) * 1000:.0f}" for _, v in sorted(slices.items()))
            + " ms"
        )
    for name, problems in stats.errors.items():
        for problem in sorted(set(problems))[:3]:
            print(f"    ! {name}: {problem}")
    if stats.tail_messages or stats.tail_errors:
        print(
            f"    tails: {stats.tail_messages} messages received, {stats.tail_skipped} skipped, "
            f"{len(stats.tail_errors)} errors {sorted(set(stats.tail_errors))[:2]}"
        )


async def run_phases(layout: Layout, args: argparse.Namespace) -> None:
    viewers, owner, cluster = await prepare(layout, args)
    sampler = RssSampler(layout.pids)
    if args.big:
        await big_page(layout, cluster, viewers[0], sampler, args.big)
    async with httpx.AsyncClient(timeout=60) as http:  # one user alone, before the load
        for name, path in (("list streams", "/streams"), ("page of 50", "/streams/PAGES/messages")):
            alone = []
            for _ in range(5):
                started = time.perf_counter()
                r = await http.get(
                    layout.bases[0] + cluster + path, params={"limit": 50}, headers=viewers[0]
                )
                alone.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            print(f"  alone: {name} p50 {pct(alone, 50) * 1000:.0f} ms (5 sequential requests)")
    # The tails' client: one connection per tail, and one for the closing GET /metrics.
    limits = httpx.Limits(max_connections=args.idle + args.tails + 1)
    clients = user_clients(len(viewers) + 1)  # the viewers', then the publisher's
    try:
        async with contextlib.AsyncExitStack() as stack:
            for client in clients:
                await stack.enter_async_context(client)
            # The tails' connections (each one long-lived, opened once).
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30, limits=limits))
            bases = layout.bases
            for phase, tails in (("browse", 0), ("browse + tails", args.tails)):
                stats = Stats()
                sampler.reset()
                cpu_before = sampler.cpu_seconds()
                tasks = await open_tails(
                    http, bases, cluster, viewers, stats, tails, "LIVE", lambda i: f"live.{i % 4}"
                )
                stop = time.monotonic() + args.seconds
                if tails:
                    tasks.append(
                        asyncio.create_task(
                            publisher(clients[-1], bases[0], cluster, owner, stop, stats)
                        )
                    )
                users = [
                    user_loop(clients[i], bases[i % len(bases)], cluster, auth, stop, stats)
                    for i, auth in enumerate(viewers)
                ]
                await asyncio.gather(*users)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                report(phase, stats, args.seconds, sampler.peak, sampler.cpu_seconds() - cpu_before)
            # Idle SSE connections on a quiet stream: memory per connection, as the slope of
            # RSS over connections opened in four steps (one before/after difference drowns in
            # what the heap gives back after the load phases).
            await asyncio.sleep(2)
            stats = Stats()
            idle: list[asyncio.Task[None]] = []
            points = [(0, sampler.now())]
            step = max(1, args.idle // 4)
            for opened in range(0, args.idle, step):
                count = min(step, args.idle - opened)
                idle += await open_tails(
                    http, bases, cluster, viewers, stats, count, "QUIET", lambda _: "quiet.>"
                )
                await asyncio.sleep(2)
                points.append((opened + count - len(stats.tail_errors), sampler.now()))
            up = points[-1][0]
            print(
                f"  idle SSE: {up}/{args.idle} open, RSS {points[0][1] / 2**20:.0f} -> "
                f"{points[-1][1] / 2**20:.0f} MiB, {slope(points) / 1024:.1f} KiB per "
                f"connection (slope over {len(points)} points); errors "
                f"{len(stats.tail_errors)} {sorted(set(stats.tail_errors))[:2]}"
            )
            for task in idle:
                task.cancel()
            await asyncio.gather(*idle, return_exceptions=True)
            owner_metrics = (await http.get(bases[0] + "/metrics")).text
            for line in owner_metrics.splitlines():
                if re.match(
                    r"jetdeck_collections?_(last_duration_seconds|errors_total|total)\{", line
                ):
                    print(f"  {line}")
    finally:
        sampler.stop()


async def big_page(
    layout: Layout, cluster: str, auth: dict[str, str], sampler: RssSampler, count: int
) -> None:
    """One `limit=1000` page of `count` 1 MB messages: RSS before, at peak, and after."""
    await asyncio.sleep(3)
    before = sampler.now()
    sampler.reset()
    async with httpx.AsyncClient(timeout=120) as http:
        started = time.perf_counter()
        r = await http.get(
            f"{layout.bases[0]}{cluster}/streams/BIG/messages",
            params={"limit": 1000},
            headers=auth,
        )
        elapsed = time.perf_counter() - started
    await asyncio.sleep(1)
    page = r.json()
    print(
        f"  big page: {count} x 1 MB, limit=1000 -> {r.status_code}, "
        f"{len(page.get('messages', []))} messages, next_seq {page.get('next_seq')}, "
        f"{len(r.content) / 2**20:.1f} MiB body in {elapsed:.2f} s; RSS {before / 2**20:.0f} -> "
        f"peak {sampler.peak / 2**20:.0f} MiB (+{(sampler.peak - before) / 2**20:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=["up", "prod", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--tails", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--big", type=int, default=300, help="1 MB messages for the big page")
    parser.add_argument(
        "--keep", action="store_true", help="keep the data and the servers' logs (path printed)"
    )
    args = parser.parse_args()
    # The client's own collector pauses would count as the server's latency: the client
    # settles its heap as the servers do (shared/runtime.py).
    settle_heap()
    print(
        f"load: {args.users} users, {args.tails} tails, {args.idle} idle SSE, "
        f"{args.streams} streams, {args.seconds:.0f} s a phase; tails per user raised to 50"
    )
    tmp = Path(tempfile.mkdtemp(prefix="jetdeck-load-"))
    try:
        for name, layout_of in (("up", up_layout), ("prod", prod_layout)):
            if args.layout not in (name, "both"):
                continue
            with layout_of(tmp) as layout:
                print(f"{layout.name}:")
                asyncio.run(run_phases(layout, args))
    finally:
        if args.keep:
            print(f"kept: {tmp} (the servers' logs are its *.log)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
