"""The audit trail. See `shared/audit/changes.py` for how a service reports what it changed."""

from shared.audit.changes import AuditScope, record_actor, record_change, record_org

__all__ = ["AuditScope", "record_actor", "record_change", "record_org"]
