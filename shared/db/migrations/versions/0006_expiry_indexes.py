"""Indexes on the expiry of refresh tokens, web sessions and invitations, which the
housekeeping purge selects by

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("refresh_tokens", "web_sessions", "invitations")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_expires_at", table_name=table)
