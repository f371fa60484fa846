"""Writing and reading the audit trail (append-only; the table's trigger enforces it)."""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from shared.accounts.schemas import ActorOut, AuditEventOut, Page
from shared.audit.changes import Actor, AuditScope, Change, Facts, current_scope
from shared.audit.models import AuditEvent
from shared.audit.redact import diff
from shared.db import Database
from shared.db.base import utcnow


def _rows(scope: AuditScope, changes: list[Change | None]) -> list[AuditEvent]:
    facts = scope.facts
    assert facts is not None
    at = utcnow()
    actor = scope.actor or facts.actor
    targets: list[uuid.UUID | None] = [*facts.org_ids] or [scope.org_id]
    return [
        AuditEvent(
            org_id=org_id,
            at=at,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_label=actor.label,
            action=facts.action,
            target=change.target if change else "",
            ip=facts.ip,
            user_agent=(facts.user_agent or "")[:400] or None,
            diff=diff(change.before, change.after) if change else {},
        )
        for org_id in targets
        for change in changes
    ]


@event.listens_for(Session, "before_commit")
def _commit_the_changes_with_their_audit_rows(session: Session) -> None:
    """Every transaction that commits inside an audit scope carries the rows of the changes
    recorded so far: the change and its entry commit together (or neither does)."""
    scope = current_scope()
    if scope is None or scope.facts is None:
        return
    pending = scope.pending()
    if not pending:
        return
    rows = _rows(scope, list(pending))
    session.add_all(rows)
    for change in pending:
        change.written = True
    scope.rows_written += len(rows)


async def write_remaining(db: Database, scope: AuditScope) -> None:
    """At the end of a successful mutation: the changes no transaction carried (NATS ones) —
    one row each — or, when the service recorded nothing at all, one row with an empty diff."""
    pending = scope.pending()
    if not pending and scope.rows_written:
        return
    async with db.session() as session:
        if not scope.changes:
            session.add_all(_rows(scope, [None]))
            scope.rows_written += 1
        # Pending changes are added by the commit hook above.


def operator_actor(tool: str = "cli") -> Actor:
    """Whoever runs a `jetdeck` command on the host: the OS user, as the audit trail's actor."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        who = f"uid {os.getuid()}"
    return Actor("system", None, f"{tool}:{who}")


@asynccontextmanager
async def audited(
    db: Database,
    action: str,
    actor: Actor,
    *,
    org_ids: Iterable[uuid.UUID] = (),
    user_agent: str = "jetdeck-cli",
) -> AsyncIterator[AuditScope]:
    """The front door for a mutation made outside the API (a CLI command, `jetdeck up`): the
    changes the services record inside are written with their transactions, like a route's.
    The entry goes to each of `org_ids` (a user's deactivation concerns every organization
    they belong to), else to the organization the service named."""
    facts = Facts(action, actor, tuple(org_ids), None, user_agent)
    with AuditScope(facts=facts) as scope:
        yield scope
        await write_remaining(db, scope)


async def list_events(
    db: Database,
    org_id: uuid.UUID,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[AuditEventOut]:
    """Newest first. `actor` is an actor id or label (email, key name); `action` is exact, or a
    prefix when it ends with `*` (`member.*`); `target` likewise (`cluster:main`, `cluster:*`)."""
    filters = [AuditEvent.org_id == org_id]
    if actor:
        try:
            filters.append(AuditEvent.actor_id == uuid.UUID(actor))
        except ValueError:
            filters.append(func.lower(AuditEvent.actor_label) == actor.lower())
    if action:
        if action.endswith("*"):
            filters.append(AuditEvent.action.startswith(action[:-1], autoescape=True))
        else:
            filters.append(AuditEvent.action == action)
    if target:
        if target.endswith("*"):
            filters.append(AuditEvent.target.startswith(target[:-1], autoescape=True))
        else:
            filters.append(AuditEvent.target == target)
    if since:
        filters.append(AuditEvent.at >= since)
    if until:
        filters.append(AuditEvent.at < until)
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(AuditEvent).where(*filters))
        rows = await session.scalars(
            select(AuditEvent)
            .where(*filters)
            .order_by(AuditEvent.at.desc(), AuditEvent.id)
            .offset(offset)
            .limit(limit)
        )
        return Page([_out(e) for e in rows], total or 0)


def _out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        at=event.at,
        actor=ActorOut(event.actor_type, event.actor_id, event.actor_label),
        action=event.action,
        target=event.target,
        ip=event.ip,
        user_agent=event.user_agent,
        diff=event.diff,
    )
