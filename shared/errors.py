"""Domain errors. Services raise these; only a front door turns them into statuses or retries."""

from __future__ import annotations

from typing import Any


class JetDeckError(Exception):
    """Base of every error a service may raise on purpose.

    `code` is a stable machine-readable name (`stream_not_found`), `detail` a sentence for a
    person, `extra` any structured facts (for a NATS error: `nats_err_code`, `description`).
    """

    default_code = "error"

    def __init__(
        self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra or {}


class Invalid(JetDeckError):
    default_code = "invalid"


class NotAuthenticated(JetDeckError):
    default_code = "not_authenticated"


class Forbidden(JetDeckError):
    default_code = "forbidden"


class NotFound(JetDeckError):
    default_code = "not_found"


class Conflict(JetDeckError):
    default_code = "conflict"


class RateLimited(JetDeckError):
    default_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None):
        super().__init__(detail, code=code, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(JetDeckError):
    """A cluster or backing service could not be reached. Workers retry these."""

    default_code = "unavailable"
