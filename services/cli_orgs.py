"""`jetdeck orgs create --slug S --name N --owner-email E`: an operator opens an organization
for an existing user, its owner (the way to create organizations when
JETDECK_ORG_CREATION=operators). Audited like every CLI change, as `cli:<OS user>`."""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec

from services.cli import PARSER_HOOKS, command
from shared.accounts.orgs import create_org
from shared.accounts.schemas import OrgIn
from shared.accounts.users import find_user_by_email
from shared.audit.trail import audited, operator_actor
from shared.config import get_settings
from shared.db import Database
from shared.errors import JetDeckError


def _add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg, unused-ignore]
    from services.cli import COMMON

    orgs = sub.add_parser("orgs", parents=[COMMON], help="manage organizations")
    actions = orgs.add_subparsers(dest="orgs_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", parents=[COMMON], help="create an organization owned by an existing user"
    )
    create.add_argument("--slug", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--owner-email", required=True, help="an existing user; the owner")


PARSER_HOOKS.append(_add_parser)


@command("orgs")
def cmd_orgs(args: argparse.Namespace) -> int:
    settings = get_settings().require("database")
    assert settings.database.url
    db = Database(settings.database.url, pool_size=1)

    async def run() -> str:
        try:
            data = msgspec.convert({"slug": args.slug, "name": args.name or args.slug}, OrgIn)
            async with db.session() as session:
                owner = await find_user_by_email(session, args.owner_email)
            if owner is None:
                raise SystemExit(f"jetdeck: no user with the email {args.owner_email}")
            async with audited(db, "org.create", operator_actor()):
                await create_org(db, data.slug, data.name, owner.id)
            return f"Created organization {data.slug}, owned by {owner.email}."
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except JetDeckError as exc:
        print(f"jetdeck: {exc.detail}", file=sys.stderr)
        return 1
    except msgspec.ValidationError as exc:
        print(f"jetdeck: {exc}", file=sys.stderr)
        return 1
    return 0
