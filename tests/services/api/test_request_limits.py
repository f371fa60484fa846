"""Request bodies are bounded: a body over JETDECK_MESSAGES_MAX_BODY_BYTES answers 413 before
anything reads it whole."""

from __future__ import annotations

from typing import Any


async def test_a_publish_body_over_the_limit_answers_413_and_one_under_it_is_stored(
    on_server: Any,
) -> None:
    await on_server.create_stream("S", subjects=["s.>"])
    too_big = await on_server.post(
        "/streams/S/messages", json={"subject": "s.a", "text": "x" * (3 * 1024 * 1024)}
    )
    fits = await on_server.post(
        "/streams/S/messages", json={"subject": "s.a", "text": "x" * (900 * 1000)}
    )
    assert too_big.status_code == 413
    assert fits.status_code == 201
