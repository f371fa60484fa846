"""JetStream API errors → domain errors, by `err_code` (nats-server's errors.json)."""

from __future__ import annotations

from typing import Any

from shared import errors

# err_code → (domain error, stable code). Anything else falls back on the HTTP-like `code`.
ERR_CODES: dict[int, tuple[type[errors.JetDeckError], str]] = {
    10059: (errors.NotFound, "stream_not_found"),
    10014: (errors.NotFound, "consumer_not_found"),
    10037: (errors.NotFound, "message_not_found"),
    10058: (errors.Conflict, "stream_name_in_use"),
    10013: (errors.Conflict, "consumer_name_in_use"),
    10148: (errors.Conflict, "consumer_exists"),
    10065: (errors.Conflict, "stream_subjects_overlap"),
    10039: (errors.Unavailable, "jetstream_not_enabled"),
    10076: (errors.Unavailable, "jetstream_not_enabled"),
    10008: (errors.Unavailable, "jetstream_cluster_unavailable"),
    10071: (errors.Conflict, "wrong_last_sequence"),
    10027: (errors.Conflict, "maximum_streams_reached"),
    10026: (errors.Conflict, "maximum_consumers_reached"),
    10149: (errors.NotFound, "consumer_not_found"),
    # NATS answers these with code 500, but they carry why a config was refused (storage
    # cannot change, …): the caller's to fix, not NATS failing.
    10049: (errors.Invalid, "stream_config_refused"),
    10052: (errors.Invalid, "stream_config_refused"),
    10012: (errors.Invalid, "consumer_config_refused"),
    10023: (errors.Invalid, "insufficient_resources"),
    10047: (errors.Invalid, "insufficient_resources"),
}

_BY_STATUS: dict[int, tuple[type[errors.JetDeckError], str]] = {
    400: (errors.Invalid, "nats_bad_request"),
    404: (errors.NotFound, "nats_not_found"),
    408: (errors.Unavailable, "nats_timeout"),
    409: (errors.Conflict, "nats_conflict"),
    500: (errors.Unavailable, "nats_server_error"),
    503: (errors.Unavailable, "nats_unavailable"),
}


def domain_error(error: dict[str, Any], *, cluster: str) -> errors.JetDeckError:
    """The domain error for a JetStream API `error` object, keeping NATS' own description."""
    err_code = int(error.get("err_code") or 0)
    status = int(error.get("code") or 500)
    description = str(error.get("description") or "unknown JetStream error")
    cls, code = (
        ERR_CODES.get(err_code)
        or _BY_STATUS.get(status)
        # NATS failing on its side is not the caller's bad request.
        or ((errors.Unavailable, "nats_server_error") if status >= 500 else None)
        or (errors.Invalid, "nats_error")
    )
    return cls(
        f"NATS rejected the request: {description}",
        code=code,
        extra={
            "nats_err_code": err_code,
            "nats_code": status,
            "description": description,
            "cluster": cluster,
        },
    )
