"""`jetdeck up` as a user runs it: one command, everything stops with it, data stays."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from services.embedded.process import free_port

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}


STARTED: list[Up] = []


@pytest.fixture(autouse=True)
def _stop_what_a_test_left_running() -> Iterator[None]:
    """A failing test must not leave a whole stack running behind it."""
    yield
    while STARTED:
        up = STARTED.pop()
        if up.process.poll() is None:
            up.process.terminate()
            try:
                up.process.wait(60)
            except subprocess.TimeoutExpired:
                up.process.kill()
                up.process.wait(10)


@pytest.fixture
def data() -> Iterator[Path]:
    """A data dir for `jetdeck up`, outside pytest's temporary root: under root, PostgreSQL
    runs as an unprivileged user that must traverse every parent directory, and any other
    pytest session starting on this machine makes that root 0700 again."""
    root = Path(tempfile.mkdtemp(prefix="jetdeck-up-test-"))
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


class Up:
    def __init__(self, data_dir: Path, *args: str):
        self.port = free_port()
        self.data_dir = data_dir
        self.log = data_dir.parent / f"up-{self.port}.log"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services",
                "up",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                *args,
            ],
            env=_env(),
            stdout=open(self.log, "wb"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        STARTED.append(self)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jetdeck up exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"jetdeck up was not ready in {timeout}s:\n{self.log.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)


def _gone(processes: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_leaves_no_process_behind(data: Path, sig: int) -> None:
    up = Up(data, "--no-demo")
    up.wait_ready()
    children = up.descendants()
    names = {p.name() for p in children}
    assert {"nats-server", "postgres", "redis-server"} <= names
    assert up.stop(sig) == 0
    assert _gone(children) == []
    assert "JetDeck is stopping" in up.log.read_text()


def test_servers_die_with_jetdeck_even_when_it_is_killed(data: Path) -> None:
    up = Up(data, "--no-demo")
    up.wait_ready()
    children = up.descendants()
    up.stop(signal.SIGKILL)
    assert _gone(children, timeout=30) == []


def test_a_second_up_on_the_same_data_dir_is_refused(data: Path) -> None:
    first = Up(data, "--no-demo")
    first.wait_ready()
    try:
        second = Up(data, "--no-demo")
        assert second.process.wait(60) == 2
        assert "already running" in second.log.read_text()
    finally:
        first.stop()


def test_data_survives_a_restart_and_other_commands_use_the_running_instance(
    data: Path,
) -> None:
    first = Up(data)  # with the demo streams
    first.wait_ready()
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "services",
            "users",
            "create",
            "--data-dir",
            str(data),
            "--email",
            "owner@example.com",
            "--org",
            "acme",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert "demo" in _cluster_names_once_listed(first.url, "acme")
    assert first.stop() == 0

    second = Up(data, "--no-demo")
    second.wait_ready()
    try:
        login = httpx.post(
            f"{second.url}/api/v1/auth/login",
            json={"email": "owner@example.com", "password": PASSWORD},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        streams = _nats_stream_names(data)
        assert {"ORDERS", "JOBS", "EVENTS"} <= set(streams)
    finally:
        assert second.stop() == 0


def _nats_stream_names(data: Path) -> list[str]:
    import asyncio

    import nats

    ports = json.loads((data / "ports.json").read_text())
    secrets = json.loads((data / "secrets.json").read_text())

    async def names() -> list[str]:
        nc = await nats.connect(
            f"nats://127.0.0.1:{ports['nats']}",
            user="jetdeck",
            password=secrets["nats_app_password"],
        )
        reply = json.loads((await nc.request("$JS.API.STREAM.NAMES", b"{}", timeout=5)).data)
        await nc.close()
        return list(reply.get("streams") or [])

    return asyncio.run(names())


def _cluster_names_once_listed(url: str, org: str, timeout: float = 60) -> list[str]:
    """The org's clusters, waiting while `jetdeck up` registers its demo cluster."""
    login = httpx.post(
        f"{url}/api/v1/auth/login",
        json={"email": "owner@example.com", "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    deadline = time.monotonic() + timeout
    names: list[str] = []
    while time.monotonic() < deadline:
        listed = httpx.get(f"{url}/api/v1/orgs/{org}/clusters", headers=headers, timeout=30)
        assert listed.status_code == 200, listed.text
        names = [c["name"] for c in listed.json()["items"]]
        if names:
            break
        time.sleep(0.5)
    return names
