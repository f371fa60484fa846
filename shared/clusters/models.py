"""A registered cluster. Secrets (passwords, tokens, seeds, creds, the TLS key) live only in
`secrets`, encrypted with Fernet; every other column is plain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    servers: Mapped[list[str]] = mapped_column(JSONB)
    # Non-secret parts: {"type": ..., "username": ...}; system_auth likewise or None.
    auth: Mapped[dict[str, Any]] = mapped_column(JSONB)
    system_auth: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    # {"ca_pem": ..., "cert_pem": ..., "handshake_first": bool} or None; the key is a secret.
    tls: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    # Fernet token of {"auth": {...}, "system_auth": {...}, "tls": {"key_pem": ...}}.
    secrets: Mapped[str] = mapped_column(Text, default="")
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    # A disabled cluster stays registered and browsable but is not collected.
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_clusters_org_id_name"),)
