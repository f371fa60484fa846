"""`jetdeck up`: start the embedded servers, migrate, then run web+API, a worker, the scheduler
and the demo in this one process. Ctrl-C or SIGTERM stops everything, children included."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

log = logging.getLogger("jetdeck.embedded")

DEMO_JOB = "demo-cluster"
DEMO_RETRY_SECONDS = 5.0


def run_embedded(data_dir: Path, *, port: int, demo: bool) -> int:
    from services.cli import _configure_logging
    from services.embedded.process import port_is_free
    from services.embedded.stack import AlreadyRunning, EmbeddedStack
    from shared.config import get_settings

    _configure_logging()

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through `finally`: everything stops in order

    signal.signal(signal.SIGTERM, terminate)
    host = "127.0.0.1"
    if not port_is_free(port, host):
        print(
            f"jetdeck: port {port} on {host} is in use; choose another with --port", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    stack = EmbeddedStack(data_dir)
    worker = scheduler = traffic = None
    try:
        try:
            env = stack.start()
        except AlreadyRunning as exc:
            print(f"jetdeck: {exc}", file=sys.stderr)
            return 2
        os.environ.update(env)
        os.environ["JETDECK_PORT"] = str(port)
        os.environ["JETDECK_HOST"] = host
        get_settings.cache_clear()
        settings = get_settings()

        from shared.db.migrate import upgrade_database
        from shared.metrics.clickhouse import ClickHouse
        from shared.metrics.migrate import migrate_clickhouse

        assert settings.database.url and settings.clickhouse.url and settings.redis.url
        upgrade_database(settings.database.url)
        asyncio.run(
            migrate_clickhouse(ClickHouse(settings.clickhouse.url, settings.clickhouse.database))
        )
        from services.cli_users import first_owner_hint

        owner_hint = asyncio.run(first_owner_hint(settings.database.url, str(stack.data_dir)))

        # The broker module reads the settings above; import it only now.
        import dramatiq

        from services.workers.actors import broker
        from services.workers.scheduler import Scheduler, standard_jobs

        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=1000)
        worker.start()
        scheduler = standard_jobs(Scheduler(settings.redis.url))
        scheduler.start()

        if demo:
            from services.embedded.demo import DemoTraffic

            creds = stack.nats_credentials
            traffic = DemoTraffic(creds["servers"], creds["user"], creds["password"])
            traffic.start()
            from services.embedded.demo import register_demo_cluster

            demo_org = asyncio.run(register_demo_cluster(settings, creds))
            if demo_org:
                print(f"The embedded NATS is cluster `demo` in {demo_org}.", flush=True)
            elif owner_hint:
                # No organization yet: register the demo as soon as the first owner is
                # created (while this runs), not only at the next start.
                jobs = scheduler

                def register_when_ready() -> None:
                    slug = asyncio.run(register_demo_cluster(settings, creds))
                    if slug:
                        jobs.scheduler.remove_job(DEMO_JOB)
                        print(f"The embedded NATS is cluster `demo` in {slug}.", flush=True)

                jobs.every(DEMO_RETRY_SECONDS, DEMO_JOB, register_when_ready)

        from services.app import create_app
        from services.cli import serve_http

        url = f"http://{host}:{port}"
        stack.publish_instance(url, env)
        app = create_app(settings)
        log.info("servers up in %.1fs", time.monotonic() - started)
        print(
            f"JetDeck is running at {url}  (data in {stack.data_dir}; Ctrl-C stops it)", flush=True
        )
        print(f"NATS (demo account): {', '.join(stack.nats_credentials['servers'])}", flush=True)
        if owner_hint:
            print(owner_hint, flush=True)
        # uvicorn handles SIGINT and SIGTERM: it finishes requests and returns here.
        serve_http(app, host, port)
    finally:
        print("JetDeck is stopping…", file=sys.stderr, flush=True)
        for part, stop in (
            ("demo", traffic and traffic.stop),
            ("scheduler", scheduler and scheduler.stop),
            ("worker", worker and worker.stop),
        ):
            if stop:
                try:
                    stop()
                except Exception:
                    log.exception("stopping the %s failed", part)
        stack.stop()
    return 0
