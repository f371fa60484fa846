"""Only shared/nats touches nats-py's private members or the gateway's private helpers; the
rest of JetDeck goes through the gateway's public functions."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(
    r"\._server_info\b|\._send_command\b|\._flush_pending\b|\._error_cb\b|\bnc\._[a-z]"
    r"|from shared\.nats(?:\.\w+)? import [^\n]*\b_\w+"
)


def test_no_module_outside_shared_nats_uses_nats_py_or_gateway_private_members() -> None:
    offenders = []
    for folder in ("shared", "services", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_relative_to(ROOT / "shared" / "nats"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if PRIVATE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
    assert (ROOT / "shared" / "nats" / "gateway.py").read_text().count("_server_info") >= 1
