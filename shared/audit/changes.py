"""What a unit of work changed, collected while it runs and put on the audit trail.

A front door opens an `AuditScope` around each mutation (the API does it for every route that
declares an audit action), saying who acts and why (`Facts`); services call
`record_change(target, before, after)` for each thing they change, with plain JSON-able
dicts. A change recorded inside a database transaction is written *by that transaction*, as
it commits (shared/audit/trail.py), so a change and its audit row exist together or not at
all. A change with no transaction (NATS: a stream, a message) is written by the front door
before it answers. Secrets are redacted when the entry is written, so services may pass
configs as they are. Changes made outside any scope (a migration, a test calling a service
directly) are simply not collected.

A service may also say which organization a change belongs to (`record_org`, for one it just
created) or who acted (`record_actor`, for a route anyone may call, like accepting an
invitation), when the front door cannot know.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_scope: ContextVar[AuditScope | None] = ContextVar("jetdeck_audit_scope", default=None)


@dataclass
class Change:
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    written: bool = False  # on the trail already (committed with its transaction)


@dataclass
class Actor:
    type: str  # "user" | "api_key" | "system"
    id: uuid.UUID | None
    label: str


@dataclass
class Facts:
    """What the front door knows about the mutation: its action, who acts, from where, and
    the organizations the entry goes to (none: the one the request named, or the service)."""

    action: str
    actor: Actor
    org_ids: tuple[uuid.UUID, ...] = ()
    ip: str | None = None
    user_agent: str | None = None


@dataclass
class AuditScope:
    changes: list[Change] = field(default_factory=list)
    org_id: uuid.UUID | None = None
    actor: Actor | None = None
    facts: Facts | None = None
    rows_written: int = 0

    def pending(self) -> list[Change]:
        return [c for c in self.changes if not c.written]

    def __enter__(self) -> AuditScope:
        self._token = _scope.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _scope.reset(self._token)


def current_scope() -> AuditScope | None:
    return _scope.get()


def record_change(target: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Report that `target` (e.g. `stream:ORDERS`) went from `before` to `after` (None = absent)."""
    scope = _scope.get()
    if scope is not None:
        scope.changes.append(Change(target, before, after))


def record_org(org_id: uuid.UUID) -> None:
    """The organization the current change belongs to, when the request did not name one."""
    scope = _scope.get()
    if scope is not None and scope.org_id is None:
        scope.org_id = org_id


def record_actor(type: str, id: uuid.UUID | None, label: str) -> None:
    """Who acted, when the request was not authenticated (accepting an invitation)."""
    scope = _scope.get()
    if scope is not None and scope.actor is None:
        scope.actor = Actor(type, id, label)
