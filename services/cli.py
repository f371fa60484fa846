"""`jetdeck`: the one command line. See `jetdeck --help`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import ConfigError, Settings, get_settings

if TYPE_CHECKING:  # the CLI imports the web stack only for the commands that serve
    from litestar import Litestar

log = logging.getLogger("jetdeck")

# Commands register here; feature issues add theirs (`users`, `clusters`).
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
PARSER_HOOKS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def command(
    name: str,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def _configure_logging(settings: Settings | None = None) -> None:
    level = settings.app.log_level if settings else os.environ.get("JETDECK_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "apscheduler", "nats", "dramatiq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def adopt_running_instance(data_dir: Path) -> bool:
    """Point this command at the `jetdeck up` running on `data_dir`, if one is.

    Only fills variables the user did not set. Returns whether an instance was found.
    """
    from services.embedded.stack import load_or_create_secrets, read_instance

    info = read_instance(data_dir)
    if info is None:
        return False
    keys = load_or_create_secrets(data_dir)
    for var, value in (
        ("JETDECK_EMBEDDED", "true"),
        ("JETDECK_DATA_DIR", str(data_dir)),
        ("JETDECK_DATABASE_URL", info["database_url"]),
        ("JETDECK_REDIS_URL", info["redis_url"]),
        ("JETDECK_SECRET_KEY", keys["secret_key"]),
        ("JETDECK_ENCRYPTION_KEY", keys["encryption_key"]),
    ):
        os.environ.setdefault(var, value)
    get_settings.cache_clear()
    return True


def serve_http(app: Litestar, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then return (uvicorn.run would re-raise the signal and
    kill the process before its callers could stop what they started)."""
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    Server(uvicorn_config(app, host, port)).run()


KEEP_ALIVE_SECONDS = 75


def uvicorn_config(app: Any, host: str, port: int) -> Any:
    """How JetDeck's HTTP server runs. Forwarded headers are the app's business (trusted only
    from JETDECK_TRUSTED_PROXIES), so uvicorn's own handling (which trusts 127.0.0.1) is off."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        # An idle keep-alive connection outlives the clients' own idle limits (httpx 5 s, a
        # load balancer's 60 s): otherwise the server may close one as a client reuses it,
        # and the client's request meets a reset (bench/load.py saw it under load).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def _apps(args: argparse.Namespace, *, api: bool, web: bool) -> int:
    from services.app import create_app

    settings = get_settings().require("database", "redis", "clickhouse")
    _configure_logging(settings)
    host = args.host or settings.app.host
    port = args.port or settings.app.port
    log.info(
        "serving %s on http://%s:%s",
        "+".join(n for n, on in (("api", api), ("web", web)) if on),
        host,
        port,
    )
    serve_http(create_app(settings, api=api, web=web), host, port)
    return 0


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    return _apps(args, api=True, web=True)


@command("api")
def cmd_api(args: argparse.Namespace) -> int:
    return _apps(args, api=True, web=False)


@command("web")
def cmd_web(args: argparse.Namespace) -> int:
    return _apps(args, api=False, web=True)


@command("migrate")
def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade_database
    from shared.metrics.clickhouse import ClickHouse
    from shared.metrics.migrate import migrate_clickhouse

    settings = get_settings().require("database")
    _configure_logging(settings)
    assert settings.database.url
    upgrade_database(settings.database.url)
    print("PostgreSQL: migrated to the latest revision")
    if settings.clickhouse.url:
        applied = asyncio.run(
            migrate_clickhouse(ClickHouse(settings.clickhouse.url, settings.clickhouse.database))
        )
        print(f"ClickHouse: applied {applied or 'nothing new'}")
    elif settings.app.embedded:
        print(
            "ClickHouse: embedded chDB belongs to the running instance, which migrates it at start"
        )
    else:
        print("ClickHouse: JETDECK_CLICKHOUSE_URL not set; skipped")
    return 0


@command("worker")
def cmd_worker(args: argparse.Namespace) -> int:
    """Dramatiq's own CLI, as a child in its own process group.

    A stop signal sent to our whole group (Ctrl-C, `timeout`, systemd's control-group kill)
    would otherwise reach Dramatiq's worker processes twice, directly and forwarded by its
    main process; the second one arrives before the worker has stopped its threads and
    leaves it hanging at exit. So the worker gets each signal once, from us, and dies with us.
    """
    from services.embedded.process import ChildProcess

    settings = get_settings().require("redis", "database", "clickhouse")
    _configure_logging(settings)
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "services.workers.actors",
        "--processes",
        str(args.processes),
        "--threads",
        str(settings.workers.worker_threads),
    ]
    worker = ChildProcess("dramatiq", argv, log_path=None).start()
    assert worker.process is not None
    forwarded = False

    def forward(signum: int, frame: object) -> None:
        nonlocal forwarded
        if not forwarded and worker.process is not None:
            forwarded = True
            worker.process.send_signal(signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    return worker.process.wait()


@command("scheduler")
def cmd_scheduler(args: argparse.Namespace) -> int:
    from services.workers.scheduler import run_forever

    settings = get_settings().require("redis")
    _configure_logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    assert settings.redis.url
    run_forever(settings.redis.url, stop)
    return 0


@command("up")
def cmd_up(args: argparse.Namespace) -> int:
    from services.embedded.runner import run_embedded

    data_dir = Path(args.data_dir or os.environ.get("JETDECK_DATA_DIR") or ".jetdeck")
    port = args.port or int(os.environ.get("JETDECK_PORT") or 8000)
    return run_embedded(data_dir, port=port, demo=not args.no_demo)


# Every subcommand accepts --data-dir too; SUPPRESS keeps it from erasing a value given earlier.
COMMON = argparse.ArgumentParser(add_help=False)
COMMON.add_argument(
    "--data-dir",
    default=argparse.SUPPRESS,
    help="the data dir of `jetdeck up` (default .jetdeck); other commands use "
    "the instance running on it",
)


# Modules that register further commands through `command` and `PARSER_HOOKS`.
COMMAND_MODULES = ["services.cli_users", "services.cli_clusters", "services.cli_orgs"]


def load_command_modules() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name)


def build_parser() -> argparse.ArgumentParser:
    load_command_modules()
    parser = argparse.ArgumentParser(
        prog="jetdeck", description="A team console for NATS JetStream."
    )
    parser.add_argument(
        "--data-dir",
        help="the data dir of `jetdeck up`; other commands use the instance running on it",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up", parents=[COMMON], help="run everything on an embedded stack, in one process"
    )
    up.add_argument("--port", type=int, help="HTTP port on 127.0.0.1 (default 8000)")
    up.add_argument("--no-demo", action="store_true", help="no demo streams or traffic")

    for name, text in (
        ("serve", "API and web app in one process"),
        ("api", "the JSON API alone"),
        ("web", "the web app alone"),
    ):
        p = sub.add_parser(name, parents=[COMMON], help=text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
    sub.add_parser("migrate", parents=[COMMON], help="apply PostgreSQL and ClickHouse migrations")
    worker = sub.add_parser("worker", parents=[COMMON], help="run Dramatiq workers")
    worker.add_argument("--processes", type=int, default=1)
    sub.add_parser(
        "scheduler", parents=[COMMON], help="enqueue periodic work (one leader at a time)"
    )
    for hook in PARSER_HOOKS:
        hook(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "up":
        data_dir = args.data_dir or os.environ.get("JETDECK_DATA_DIR")
        if data_dir and not adopt_running_instance(Path(data_dir)) and args.data_dir:
            print(f"jetdeck: no running instance on data dir {data_dir}", file=sys.stderr)
            return 2
        if not data_dir and "JETDECK_DATABASE_URL" not in os.environ:
            adopt_running_instance(Path(".jetdeck"))
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"jetdeck: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
