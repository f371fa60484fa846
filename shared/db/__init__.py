"""PostgreSQL: the one relational database (SQLAlchemy 2 async + asyncpg, Alembic)."""

from shared.db import writes  # noqa: F401 - counts this process's writes (shared/db/writes.py)
from shared.db.base import Base
from shared.db.engine import Database

__all__ = ["Base", "Database"]
