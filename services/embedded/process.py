"""Child processes that never outlive their parent.

Every child gets PR_SET_PDEATHSIG, so even if JetDeck is killed with SIGKILL the kernel
stops its servers; a clean shutdown stops them in reverse order and waits for them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("jetdeck.embedded")

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    def preexec() -> None:
        # Own process group: a terminal's Ctrl-C reaches JetDeck, which stops children in order.
        os.setpgrp()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


# Where free_port looks first: below the kernel's ephemeral range (Linux: 32768-60999).
PORTS_FROM = 10_000
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 65535


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a server about to be started on it.

    Chosen outside the kernel's ephemeral range when there is room below it: a port the kernel
    hands out for `bind(0)` is one it also gives to outgoing connections, and between this call
    and the server's own bind a connection made meanwhile (a test's, a client's) could take it
    ("address already in use"). Never the same port twice in a process."""
    low, _ = _ephemeral_range()
    if low - PORTS_FROM >= 1000:
        for _ in range(200):
            port = secrets.choice(range(PORTS_FROM, low))
            if port not in _handed_out and port_is_free(port, host):
                _handed_out.add(port)
                return port
    while True:  # no room below the ephemeral range (or all taken): the kernel's choice
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    name: str = "server",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on {host}:{port} within {timeout:.0f}s")


class ChildProcess:
    """A supervised server: started with a log file, stopped with `stop_signal`, then killed."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.user = user
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildProcess:
        """Start it; output goes to `log_path`, or to our own stdout/stderr when that is None."""
        with contextlib.ExitStack() as stack:
            out: Any = None
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(open(self.log_path, "ab"))
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent(),
                user=self.user,
                env=self.env,
                cwd=self.cwd,
            )
        log.debug("started %s (pid %s)", self.name, self.process.pid)
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            self.process.kill()
            self.process.wait(5)

    def wait_for_port(self, port: int, timeout: float = 30.0) -> None:
        """Until it listens on `port` (127.0.0.1); if it exits or never listens, the error
        carries the end of its log, which says why."""
        try:
            wait_for_port(port, timeout=timeout, process=self.process, name=self.name)
        except RuntimeError as exc:
            tail = self.log_tail()
            raise RuntimeError(f"{exc}; its log ends:\n{tail}" if tail else str(exc)) from None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
