"""JetStream API errors keep their meaning: a limit is a conflict, a missing consumer is 404,
and NATS failing on its side is its unavailability, never the caller's bad request."""

from __future__ import annotations

import pytest

from shared import errors
from shared.nats.errors import domain_error


@pytest.mark.parametrize(
    ("err_code", "status", "kind", "code"),
    [
        (10027, 400, errors.Conflict, "maximum_streams_reached"),
        (10026, 400, errors.Conflict, "maximum_consumers_reached"),
        (10149, 404, errors.NotFound, "consumer_not_found"),
        (10052, 500, errors.Invalid, "stream_config_refused"),
        (0, 500, errors.Unavailable, "nats_server_error"),
        (10999, 500, errors.Unavailable, "nats_server_error"),
        (0, 418, errors.Invalid, "nats_error"),
    ],
)
def test_a_jetstream_error_maps_to_the_domain_error_that_means_the_same(
    err_code: int, status: int, kind: type[errors.JetDeckError], code: str
) -> None:
    error = domain_error(
        {"err_code": err_code, "code": status, "description": "what NATS said"}, cluster="c"
    )
    assert type(error) is kind
    assert error.code == code
    assert error.extra["nats_err_code"] == err_code
    assert error.extra["description"] == "what NATS said"
