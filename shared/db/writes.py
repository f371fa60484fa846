"""How many times this process has written to the database: a small in-process cache of
reads keeps the count it saw before reading, and an entry is used only while the count
still holds that value, so a write made through this process shows at once.

Every ORM write counts, wherever it happens: a flush (added, changed or deleted objects),
an ORM `insert` / `update` / `delete` statement, and the commit of a session that wrote
(again, so a reader that ran between the write and its commit cannot keep the old value).
Writes by other processes are not seen: such a cache also bounds its entries' age.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

_WROTE = "jetdeck_wrote"
_count = 0


def generation() -> int:
    """The count of writes so far (it only grows)."""
    return _count


def _bump() -> None:
    global _count
    _count += 1


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True
    _bump()


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True
        _bump()


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        _bump()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WROTE, None)
