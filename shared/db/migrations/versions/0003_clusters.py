"""clusters an organization manages (secrets encrypted at rest)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("servers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("auth", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("system_auth", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tls", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=True),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_clusters_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
        sa.UniqueConstraint("org_id", "name", name="uq_clusters_org_id_name"),
    )
    op.create_index(op.f("ix_clusters_org_id"), "clusters", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_clusters_org_id"), table_name="clusters")
    op.drop_table("clusters")
