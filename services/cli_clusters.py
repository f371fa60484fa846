"""`jetdeck clusters import CONTEXT --org SLUG [--name NAME]`: register a natscli context.

CONTEXT is a context name (`~/.config/nats/context/NAME.json`) or a path to its JSON. The
files it names (creds, nkey, cert, key, ca) are read here and stored encrypted, like a
cluster registered through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

from sqlalchemy import select

from services.cli import PARSER_HOOKS, command
from shared.accounts.models import Organization
from shared.accounts.principals import operator_context
from shared.audit.trail import audited, operator_actor
from shared.backends import Backends
from shared.clusters.schemas import ContextImport
from shared.clusters.services import import_context
from shared.config import get_settings
from shared.errors import JetDeckError

FILE_FIELDS = ("creds", "nkey", "cert", "key", "ca")


def _add_parser(sub: argparse._SubParsersAction) -> None:
    from services.cli import COMMON

    clusters = sub.add_parser("clusters", parents=[COMMON], help="manage NATS clusters")
    actions = clusters.add_subparsers(dest="clusters_command", required=True, metavar="ACTION")
    imp = actions.add_parser("import", parents=[COMMON], help="register a natscli context")
    imp.add_argument("context", help="a natscli context name or the path of its JSON file")
    imp.add_argument("--org", required=True, help="organization slug")
    imp.add_argument("--name", help="cluster name (default: the context's name)")
    imp.add_argument("--environment")


PARSER_HOOKS.append(_add_parser)


def context_path(context: str) -> Path:
    path = Path(context).expanduser()
    if path.suffix == ".json" or path.exists():
        return path
    return Path("~/.config/nats/context").expanduser() / f"{context}.json"


def read_context(path: Path, name: str | None, environment: str | None) -> ContextImport:
    context = json.loads(path.read_text())
    files = {}
    for field in FILE_FIELDS:
        value = context.get(field)
        if value:
            files[value] = Path(value).expanduser().read_text()
    slug = name or re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    return ContextImport(name=slug, context=context, files=files, environment=environment)


async def _import(data: ContextImport, org_slug: str) -> str:
    backends = Backends.open(get_settings().require("database"))
    try:
        assert backends.database is not None
        async with backends.database.session() as session:
            org = await session.scalar(select(Organization).where(Organization.slug == org_slug))
        if org is None:
            raise SystemExit(f"jetdeck: no organization {org_slug!r}")
        ctx = operator_context(org.id, org.slug, org.name, "cli")
        async with audited(backends.database, "cluster.import", operator_actor(), org_ids=[org.id]):
            out = await import_context(backends, ctx, data)
        return f"registered cluster {out.name!r} ({', '.join(out.servers)}) in {org_slug}"
    finally:
        await backends.close()


@command("clusters")
def clusters_command(args: argparse.Namespace) -> int:
    try:
        data = read_context(context_path(args.context), args.name, args.environment)
        print(asyncio.run(_import(data, args.org)))
    except (OSError, ValueError) as exc:
        print(f"jetdeck: cannot read the context: {exc}", file=sys.stderr)
        return 1
    except JetDeckError as exc:
        print(f"jetdeck: {exc.detail}", file=sys.stderr)
        return 1
    return 0
