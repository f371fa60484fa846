"""Header blocks and subject matching: the parts of messages that need no server."""

from __future__ import annotations

import pytest

from shared.errors import Invalid
from shared.messages.services import subject_matches
from shared.nats.headers import HeaderValues, encode_headers, header_pairs, parse_header_block


def test_a_repeated_header_becomes_a_list_and_round_trips() -> None:
    headers: HeaderValues = {"X-Trace": "abc", "X-Tag": ["one", "two"]}
    block = encode_headers(header_pairs(headers))
    assert block == b"NATS/1.0\r\nX-Trace: abc\r\nX-Tag: one\r\nX-Tag: two\r\n\r\n"
    assert parse_header_block(block) == headers


def test_a_status_line_is_not_a_header_and_skipped_names_are_dropped() -> None:
    block = b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\nX-A: 1\r\n\r\n"
    assert parse_header_block(block, skip=frozenset({"Nats-Num-Pending"})) == {"X-A": "1"}


@pytest.mark.parametrize(
    "headers", [{"X-A": "1\r\nX-Injected: 2"}, {"Bad Name": "x"}, {"X:Y": "x"}, {"": "x"}]
)
def test_headers_that_would_break_the_block_are_refused(headers: HeaderValues) -> None:
    with pytest.raises(Invalid):
        header_pairs(headers)


@pytest.mark.parametrize(
    ("filter_", "subject", "matches"),
    [
        ("orders.>", "orders.new", True),
        ("orders.>", "orders.eu.new", True),
        ("orders.>", "orders", False),
        ("orders.*", "orders.new", True),
        ("orders.*", "orders.eu.new", False),
        ("orders.new", "orders.new", True),
        ("*.new", "orders.new", True),
        ("orders.new", "orders.old", False),
    ],
)
def test_subjects_match_nats_wildcards(filter_: str, subject: str, matches: bool) -> None:
    assert subject_matches(filter_, subject) is matches


def test_the_client_parser_gives_nats_py_keys_and_keeps_repeats() -> None:
    from shared.nats.headers import message_headers, parse_for_client

    eob = parse_for_client(b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\n\r\n")
    assert eob == {"Status": "204", "Description": "EOB", "Nats-Num-Pending": "0"}
    repeated = parse_for_client(b"NATS/1.0\r\nX-Tag: one\r\nX-Tag: two\r\nX-A: 1\r\n\r\n")
    assert repeated is not None and repeated["X-Tag"] == "two"
    assert message_headers(repeated) == {"X-Tag": ["one", "two"], "X-A": "1"}
    single = parse_for_client(b"NATS/1.0\r\nX-A: 1\r\nNats-Sequence: 4\r\n\r\n")
    assert message_headers(single, skip=frozenset({"Nats-Sequence"})) == {"X-A": "1"}
