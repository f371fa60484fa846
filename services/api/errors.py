"""The one place where errors become HTTP responses, in API.md's format:
`{"status_code", "detail", "code", "extra"}`. User input never produces a 500, and an
unexpected error never leaks its internals."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from shared import errors
from shared.backends import unavailable_from

log = logging.getLogger("jetdeck.api")

STATUS = {
    errors.Invalid: 400,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}

_HTTP_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def error_body(status: int, detail: str, code: str, extra: Any = None) -> dict[str, Any]:
    return {"status_code": status, "detail": detail, "code": code, "extra": extra or {}}


def domain_error_handler(
    request: Request[Any, Any, Any], exc: errors.JetDeckError
) -> Response[Any]:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(
        error_body(status, exc.detail, exc.code, exc.extra), status_code=status, headers=headers
    )


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    extra: Any = exc.extra
    if isinstance(exc, ValidationException):
        detail = (
            "The request is not valid: "
            + "; ".join(
                f"{e.get('key') or 'body'}: {e.get('message')}"
                for e in (exc.extra if isinstance(exc.extra, list) else [])
            )
            if isinstance(exc.extra, list) and exc.extra
            else (exc.detail or "The request is not valid")
        )
        extra = {"errors": exc.extra} if isinstance(exc.extra, list) else (exc.extra or {})
    elif isinstance(exc, NotFoundException):
        detail = exc.detail if exc.detail != "Not Found" else f"Nothing at {request.url.path}"
    else:
        detail = exc.detail
    if not isinstance(extra, dict):
        extra = {"errors": extra} if extra else {}
    return Response(
        error_body(status, detail, _HTTP_CODES.get(status, "error"), extra),
        status_code=status,
        headers=exc.headers,
    )


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    unavailable = unavailable_from(exc)
    if unavailable is not None:
        log.warning(
            "%s on %s %s: %s",
            unavailable.code,
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return domain_error_handler(request, unavailable)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response(
        error_body(500, "Something went wrong on our side; it has been logged.", "internal_error"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


exception_handlers: dict[Any, Any] = {
    errors.JetDeckError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
