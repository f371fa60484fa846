"""How much does authentication cost? Prints requests per second, in one run, for

  - `GET /healthz` (no authentication: the baseline),
  - `GET /api/v1/orgs/{org}` with an access JWT,
  - the same with an API key,

and the latency of `POST /api/v1/auth/login` (p50, p99), plus each authenticated figure's
overhead against the baseline, and the CPU of authentication itself (`resolve()`, timed in
process) as a share of an authenticated request's server CPU. The app runs under uvicorn
(one worker) in a subprocess on a free loopback port, on a throwaway PostgreSQL database and
Redis db.

    JETDECK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    JETDECK_TEST_REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/auth.py

Without those variables an embedded PostgreSQL and Redis are started. Options:
`--seconds` per measurement (default 5), `--rounds` (default 3), `--concurrency` (default 16),
`--logins` (default 50).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import PASSWORD, backing_services, running_app


@dataclass
class Run:
    rps: float
    requests: int
    non_200: int


async def throughput(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], seconds: float, concurrency: int
) -> Run:
    """Requests per second over `seconds` with `concurrency` requests in flight."""
    deadline = time.perf_counter() + seconds
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            response = await client.get(path, headers=headers)
            if response.status_code == 200:
                done += 1
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(done / (time.perf_counter() - started), done + errors, errors)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(base: str, key: str, options: argparse.Namespace, server: psutil.Process) -> None:
    seconds, concurrency, rounds = options.seconds, options.concurrency, options.rounds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(100):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        latencies = []
        token = ""
        for _ in range(options.logins):
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            token = response.json()["access_token"]
        org = "/api/v1/orgs/bench"
        targets = {
            "GET /healthz (no auth)": ("/healthz", {}),
            "GET /orgs/{org} with a JWT": (org, {"Authorization": f"Bearer {token}"}),
            "GET /orgs/{org} with an API key": (org, {"Authorization": f"Bearer {key}"}),
        }
        # Warm up every path (connections, pools, caches) before measuring.
        for path, headers in targets.values():
            await throughput(client, path, headers, 0.5, concurrency)
        # Interleaved rounds, so drift on a shared machine hits every target alike.
        rates: dict[str, list[float]] = {name: [] for name in targets}
        cpu: dict[str, list[float]] = {name: [] for name in targets}  # server µs per request
        failures: dict[str, int] = dict.fromkeys(targets, 0)
        for _ in range(rounds):
            for name, (path, headers) in targets.items():
                before = cpu_seconds(server)
                run = await throughput(client, path, headers, seconds, concurrency)
                cpu[name].append((cpu_seconds(server) - before) / max(run.requests, 1) * 1e6)
                rates[name].append(run.rps)
                failures[name] += run.non_200

    print(
        f"{rounds} interleaved rounds of {seconds:g}s per target, concurrency {concurrency}, "
        f"one uvicorn worker; client, server and databases share {os.cpu_count()} CPUs"
    )
    base_name = "GET /healthz (no auth)"
    baseline, baseline_cpu = statistics.median(rates[base_name]), statistics.median(cpu[base_name])
    print("Throughput seen by the client (which shares the CPUs and may be what limits it):")
    for name, values in rates.items():
        rps = statistics.median(values)
        each = ", ".join(f"{v:.0f}" for v in values)
        overhead = (
            "" if name == base_name else f"  {(1 - rps / baseline) * 100:5.1f}% below /healthz"
        )
        errors = f"  ({failures[name]} non-200!)" if failures[name] else ""
        print(f"  {name:34} {rps:7.0f} req/s (rounds: {each}){overhead}{errors}")
    print("Server CPU per request (what bounds a server that has the machine to itself):")
    for name, values in cpu.items():
        us = statistics.median(values)
        cost = (
            "" if name == base_name else f", {(1 - baseline_cpu / us) * 100:5.1f}% below /healthz"
        )
        print(f"  {name:34} {us:7.0f} µs  = at most {1e6 / us:6.0f} req/s per core{cost}")
    jwt_cpu = statistics.median(cpu["GET /orgs/{org} with a JWT"])
    key_cpu = statistics.median(cpu["GET /orgs/{org} with an API key"])
    own = await resolve_cpu(token, key, concurrency, 20_000)
    cold = await resolve_cpu(token, key, concurrency, 2_000, cached=False)
    print("Authentication itself (resolve(): credential → principal → role, in process):")
    for name, whole in (("JWT", jwt_cpu), ("API key", key_cpu)):
        print(
            f"  {name:34} {own[name]:7.0f} µs  = {own[name] / whole * 100:5.1f}% of that "
            f"request's server CPU; {cold[name]:.0f} µs uncached (+ PostgreSQL's own)"
        )
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{'POST /auth/login latency':36} p50 {statistics.median(latencies):6.1f} ms  "
        f"p99 {quantiles[98]:6.1f} ms  ({options.logins} logins, argon2id)"
    )


async def resolve_cpu(
    token: str, key: str, concurrency: int, calls: int, *, cached: bool = True
) -> dict[str, float]:
    """CPU µs per call of `resolve()`, which is what the middleware runs to authenticate a
    request and find the caller's role (credential → principal → organization role, through
    the access cache and the Redis epoch), in this process, against the same PostgreSQL and
    Redis as the app, with `concurrency` calls in flight as under load. Not `cached`: the
    access cache is emptied before each call (a credential's first request, or the first
    after a revocation), so the token is verified and the role read from PostgreSQL (whose
    own CPU is not in this figure)."""
    from shared.accounts.authcache import grants
    from shared.accounts.authenticate import resolve
    from shared.backends import Backends
    from shared.config import get_settings

    backends = Backends.open(get_settings())  # the app's settings: `seed` exported them
    out: dict[str, float] = {}
    try:
        for name, credential in (("JWT", token), ("API key", key)):
            await resolve(backends, credential, "bench")  # warm: connections, the cache
            per_worker = max(calls // concurrency, 1)

            async def worker(credential: str = credential, n: int = per_worker) -> None:
                for _ in range(n):
                    if not cached:
                        grants.clear()
                    await resolve(backends, credential, "bench")

            before = time.process_time()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            out[name] = (time.process_time() - before) / (per_worker * concurrency) * 1e6
    finally:
        await backends.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with backing_services() as (admin_url, redis_url), running_app(admin_url, redis_url) as app:
        asyncio.run(measure(app.base, app.api_key, args, app.process))
    return 0


if __name__ == "__main__":
    sys.exit(main())
