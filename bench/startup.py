"""How long `jetdeck up` takes to be ready, and how much memory its whole process tree uses.

Prints cold start (empty data dir: initdb, migrations, demo streams) and warm start (the same
data dir again) to the first `GET /readyz` 200, the peak resident memory of the process tree
during each run (RSS summed over JetDeck and every server it supervises; PSS at the peak, which
counts PostgreSQL's shared memory once), and as a baseline measured in the same run, the time
to start the three bare servers (nats-server, PostgreSQL, Redis) on a warm data dir without
JetDeck. Everything binds 127.0.0.1; each run is bounded to 180 s.

    .venv/bin/python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.embedded.process import free_port

LIMIT = 180.0


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss(processes: list[psutil.Process]) -> int:
    total = 0
    for p in processes:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def pss(processes: list[psutil.Process]) -> int:
    total = 0
    for p in processes:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def run_up(data_dir: Path, settle: float) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "up", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = {"rss": 0, "pss": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            processes = tree(proc.pid)
            current = rss(processes)
            if current > peak["rss"]:
                peak["rss"] = current
                peak["pss"] = pss(processes)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    ready_after = None
    try:
        while time.perf_counter() - started < LIMIT:
            if proc.poll() is not None:
                raise SystemExit(f"jetdeck up exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    ready_after = time.perf_counter() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        if ready_after is None:
            raise SystemExit("jetdeck up was not ready in time")
        time.sleep(settle)  # demo traffic, first scheduler ticks: memory in steady use
    finally:
        stop.set()
        sampler.join()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return {
        "ready_s": ready_after,
        "peak_rss_mb": peak["rss"] / 2**20,
        "peak_pss_mb": peak["pss"] / 2**20,
    }


def bare_servers(data_dir: Path) -> float:
    """Baseline: the three servers alone, warm data dir, started one after another."""
    from services.embedded.nats import NatsDeployment
    from services.embedded.postgres import EmbeddedPostgres
    from services.embedded.redis import EmbeddedRedis

    started = time.perf_counter()
    nats = NatsDeployment.plan(
        data_dir / "nats",
        app_password="bench-app",  # noqa: S106 - a throwaway local server
        system_password="bench-sys",  # noqa: S106
    ).start()
    pg = EmbeddedPostgres(data_dir / "postgres", free_port()).start()
    redis = EmbeddedRedis(data_dir / "redis", free_port()).start()
    took = time.perf_counter() - started
    redis.stop()
    pg.stop()
    nats.stop()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to watch after ready")
    args = parser.parse_args()
    cold, warm, baseline = [], [], []
    with tempfile.TemporaryDirectory(prefix="jetdeck-bench-") as tmp:
        for i in range(args.runs):
            data = Path(tmp) / f"run{i}"
            cold.append(run_up(data, args.settle))
            warm.append(run_up(data, args.settle))
            baseline.append(bare_servers(Path(tmp) / f"bare{i}"))
            baseline[-1] = bare_servers(Path(tmp) / f"bare{i}")  # warm, like `warm` above

    def line(name: str, runs: list[dict[str, float]]) -> str:
        ready = [r["ready_s"] for r in runs]
        return (
            f"{name:<28} ready median {statistics.median(ready):6.2f} s "
            f"(min {min(ready):.2f}, max {max(ready):.2f})   "
            f"peak RSS {max(r['peak_rss_mb'] for r in runs):6.0f} MiB   "
            f"peak PSS {max(r['peak_pss_mb'] for r in runs):6.0f} MiB"
        )

    print(f"jetdeck up, {args.runs} runs each, demo on, {os.cpu_count()} cores")
    print(line("cold start (new data dir)", cold))
    print(line("warm start (same data dir)", warm))
    print(
        f"{'baseline: bare servers':<28} ready median {statistics.median(baseline):6.2f} s "
        f"(nats-server + PostgreSQL + Redis, warm, no JetDeck)"
    )


if __name__ == "__main__":
    main()
