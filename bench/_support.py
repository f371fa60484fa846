"""What the benchmarks share: backing services, a throwaway database, and the app under
uvicorn (one worker) on a free loopback port with a seeded organization and API key."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.embedded.process import free_port  # noqa: E402

PASSWORD = "bench password 123456"  # noqa: S105 - a throwaway bench user


@contextmanager
def backing_services() -> Iterator[tuple[str, str]]:
    """(admin PostgreSQL URL, Redis URL): JETDECK_TEST_* ones, else embedded ones."""
    pg_url = os.environ.get("JETDECK_TEST_DATABASE_URL")
    redis_url = os.environ.get("JETDECK_TEST_REDIS_URL")
    stops = []
    tmp = Path(tempfile.mkdtemp(prefix="jetdeck-bench-"))
    if not pg_url:
        from services.embedded.postgres import EmbeddedPostgres

        pg = EmbeddedPostgres(tmp / "pg", free_port()).start()
        pg_url = pg.url("postgres")
        stops.append(pg.stop)
    if not redis_url:
        from services.embedded.redis import EmbeddedRedis

        rd = EmbeddedRedis(tmp / "redis", free_port(), persist=False).start()
        redis_url = rd.url
        stops.append(rd.stop)
    try:
        yield pg_url, redis_url
    finally:
        for stop in stops:
            stop()


async def admin_sql(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1].rpartition("/")[0] + "/" + name


async def seed(settings_env: dict[str, str]) -> str:
    """An organization `bench`, its owner, and an admin API key (returned)."""
    os.environ.update(settings_env)
    from shared.accounts.api_keys import create_api_key
    from shared.accounts.models import Membership, Organization
    from shared.accounts.principals import OrgContext, Principal
    from shared.accounts.roles import Role
    from shared.accounts.users import create_user
    from shared.backends import Backends
    from shared.config import get_settings

    get_settings.cache_clear()
    backends = Backends.open(get_settings())
    assert backends.database is not None
    user = await create_user(backends.database, "bench@example.com", PASSWORD, "Bench")
    async with backends.database.session() as session:
        org = Organization(slug="bench", name="Bench")
        session.add(org)
        await session.flush()
        session.add(Membership(org_id=org.id, user_id=user.id, role=Role.OWNER))
    principal = Principal(kind="user", id=user.id, label=user.email, user_id=user.id)
    ctx = OrgContext(org.id, org.slug, Role.OWNER, principal, org.name)
    key = (await create_api_key(backends, ctx, "bench", Role.ADMIN, None)).key
    await backends.close()
    return key


@dataclass
class RunningApp:
    base: str
    api_key: str
    process: psutil.Process


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, psutil.Process]]:
    """The app under uvicorn in a process of its own (as a browser or client meets it: no
    interpreter shared with the bench), with `env`, answering /healthz: (base URL, process)."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the app did not answer /healthz within 60 s")
        yield base, psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def running_app(admin_url: str, redis_url: str) -> Iterator[RunningApp]:
    """The whole app on a fresh migrated database, seeded, answering /healthz."""
    from cryptography.fernet import Fernet

    from shared.db.migrate import upgrade_database

    name = f"jetdeck_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_sql(admin_url, f"CREATE DATABASE {name}"))
    database_url = with_database(admin_url, name)
    try:
        upgrade_database(database_url)
        env = {
            "JETDECK_ENV": "development",
            "JETDECK_SECRET_KEY": secrets.token_urlsafe(48),
            "JETDECK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "JETDECK_DATABASE_URL": database_url,
            "JETDECK_REDIS_URL": redis_url,
            "JETDECK_LOG_LEVEL": "WARNING",
        }
        key = asyncio.run(seed(env))
        with serving(env) as (base, process):
            yield RunningApp(base, key, process)
    finally:
        asyncio.run(admin_sql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
