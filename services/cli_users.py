"""`jetdeck users create --email E --password-stdin --org SLUG --role ROLE` (and `deactivate`).

Creates the organization when it does not exist; its first member must be its owner. Works
against a running `jetdeck up` through `--data-dir`, like every command. The password is read
from stdin (or prompted for on a terminal), never from the command line, where it would sit in
shell history and `ps`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shlex
import shutil
import sys
from pathlib import Path

import msgspec
from sqlalchemy import func, select

from services.cli import PARSER_HOOKS, command
from shared.accounts.models import Membership, Organization, User
from shared.accounts.orgs import add_org
from shared.accounts.roles import Role
from shared.accounts.schemas import OrgIn
from shared.accounts.users import (
    add_user,
    deactivate_user,
    find_user_by_email,
    hash_password_off_loop,
    normalize_email,
)
from shared.audit import record_change, record_org
from shared.audit.trail import audited, operator_actor
from shared.backends import Backends
from shared.config import get_settings
from shared.db import Database
from shared.errors import JetDeckError


def _add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg, unused-ignore]
    from services.cli import COMMON

    users = sub.add_parser("users", parents=[COMMON], help="manage user accounts")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        parents=[COMMON],
        help="create a user, a member of an organization (created if missing)",
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else prompt on a terminal)",
    )
    create.add_argument(
        "--org", required=True, help="organization slug; created when missing (then --role owner)"
    )
    create.add_argument("--role", default=Role.OWNER.value, choices=[r.value for r in Role])
    deactivate = actions.add_parser(
        "deactivate", parents=[COMMON], help="refuse a user from the next request on"
    )
    deactivate.add_argument("--email", required=True)


PARSER_HOOKS.append(_add_parser)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        first = getpass.getpass("Password (12 characters or more): ")
        if first != getpass.getpass("Again: "):
            raise SystemExit("jetdeck: the passwords differ")
        return first
    raise SystemExit("jetdeck: give --password-stdin and the password on standard input")


class NewOrgNeedsOwner(Exception):
    """A new organization's first member would not be its owner: it could never get one."""


async def create_member(
    db: Database, email: str, password: str, name: str, org_slug: str, role: Role
) -> bool:
    """Create the user, the organization when missing, and the membership. Returns whether the
    organization was created."""
    msgspec.convert({"slug": org_slug, "name": org_slug}, OrgIn)  # the API's slug rules
    email = normalize_email(email)
    password_hash = await hash_password_off_loop(password)
    async with db.session() as session:
        org = await session.scalar(select(Organization).where(Organization.slug == org_slug))
        if org is None and role != Role.OWNER:
            raise NewOrgNeedsOwner(
                f"the organization {org_slug} does not exist; its first member must be its"
                " owner: give --role owner"
            )
        user = await add_user(session, email, password_hash, name)
        if org is None:
            await add_org(session, org_slug, org_slug, user.id)
            return True
        session.add(Membership(org_id=org.id, user_id=user.id, role=role))
        record_org(org.id)
        record_change(f"member:{user.id}", None, {"user_id": str(user.id), "role": str(role)})
    return False


@command("users")
def cmd_users(args: argparse.Namespace) -> int:
    settings = get_settings().require("database")
    assert settings.database.url
    db = Database(settings.database.url, pool_size=1)

    async def run() -> str:
        try:
            if args.users_command == "create":
                password = _read_password(args)
                async with audited(db, "user.create", operator_actor()):
                    org_created = await create_member(
                        db, args.email, password, args.name, args.org, Role(args.role)
                    )
                made = f" (organization {args.org} created)" if org_created else ""
                return f"Created {args.email}, {args.role} of {args.org}{made}."
            async with db.session() as session:
                user = await find_user_by_email(session, args.email)
                if user is None:
                    raise SystemExit(f"jetdeck: no user with the email {args.email}")
                org_ids = list(
                    await session.scalars(
                        select(Membership.org_id).where(Membership.user_id == user.id)
                    )
                )
            backends = Backends.open(settings)
            try:
                # On the trail of every organization the user belongs to.
                async with audited(db, "user.deactivate", operator_actor(), org_ids=org_ids):
                    await deactivate_user(backends, user.id)
            finally:
                await backends.close()
            return f"Deactivated {user.email}; every login of theirs has ended."
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except JetDeckError as exc:
        print(f"jetdeck: {exc.detail}", file=sys.stderr)
        return 1
    except NewOrgNeedsOwner as exc:
        print(f"jetdeck: {exc}", file=sys.stderr)
        return 2
    except msgspec.ValidationError:
        print(
            "jetdeck: the organization slug must be lowercase letters, digits and dashes",
            file=sys.stderr,
        )
        return 1
    return 0


def _jetdeck_command() -> str:
    """`jetdeck` when it is on PATH; else the script beside this Python (`make run` uses .venv)."""
    beside = Path(sys.executable).parent / "jetdeck"
    on_path = shutil.which("jetdeck")
    if on_path and Path(on_path).resolve() == beside.resolve():
        return "jetdeck"
    if beside.exists():
        try:
            return shlex.quote(str(beside.relative_to(Path.cwd())))
        except ValueError:
            return shlex.quote(str(beside))
    return "jetdeck"


async def first_owner_hint(database_url: str, data_dir: str) -> str | None:
    """For `jetdeck up`: while nobody can sign in, the exact command that creates the owner."""
    db = Database(database_url, pool_size=1)
    try:
        async with db.session() as session:
            anyone = await session.scalar(select(func.count()).select_from(User))
    finally:
        await db.dispose()
    if anyone:
        return None
    return (
        "No user yet. Create the first owner (reads the password from stdin):\n"
        f"  echo 'a long password' | {_jetdeck_command()} users create "
        f"--data-dir {shlex.quote(data_dir)} "
        "--email you@example.com --password-stdin --org my-team --role owner"
    )
