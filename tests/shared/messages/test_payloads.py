"""How a payload is shown: detection, each format, truncation, previews, headers, commands."""

from __future__ import annotations

import json

import cbor2
import msgpack
import pytest

from shared.messages.payloads import (
    SHOWN_BYTES,
    header_count,
    header_rows,
    hex_dump,
    json_lines,
    json_markup,
    nats_get_command,
    payload_view,
    preview,
)


def test_json_is_chosen_when_it_parses_and_pretty_printed() -> None:
    view = payload_view(b'{"order": 7, "items": [1, 2], "ok": true, "note": null}')
    assert view.detected == "json" and not view.truncated and view.size == view.shown
    assert view.rendering.value == {"order": 7, "items": [1, 2], "ok": True, "note": None}
    assert view.rendering.text == json.dumps(view.rendering.value, indent=2)


def test_json_lines_carry_typed_tokens_and_collapsible_blocks() -> None:
    lines = json_lines({"a": [1, "x"], "b": {}})
    assert [line.depth for line in lines] == [0, 1, 2, 2, 1, 1, 0]
    assert lines[0].opens and lines[0].children == 2 and lines[-1].closes
    assert lines[1].opens and lines[1].children == 2
    assert lines[1].tokens == [("key", '"a"'), ("punct", ": "), ("punct", "[")]
    assert lines[3].tokens == [("string", '"x"')]
    assert lines[5].tokens == [("key", '"b"'), ("punct", ": "), ("punct", "{}")]


def test_deeply_nested_json_is_shown_compact() -> None:
    view = payload_view(b"[" * 500 + b"]" * 500)
    assert view.detected == "json" and view.rendering.lines is None
    assert view.rendering.text == "[" * 500 + "]" * 500


def test_json_markup_escapes_every_token() -> None:
    view = payload_view(b'{"<script>": "</pre><img src=x onerror=alert(1)>&"}')
    assert view.rendering.lines is not None
    html = str(json_markup(view.rendering.lines))
    assert "<script>" not in html and "<img" not in html and "</pre>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html
    assert '<span class="json-key">' in html and '<span class="json-string">' in html


def test_messagepack_and_cbor_containers_are_decoded_to_json_on_the_server() -> None:
    packed = payload_view(msgpack.packb({"id": 3, "raw": b"\x00\xff", "tags": ["a"]}))
    assert packed.detected == "msgpack"
    assert packed.rendering.value == {"id": 3, "raw": {"$base64": "AP8="}, "tags": ["a"]}
    cbor = payload_view(cbor2.dumps({"name": "pump", "levels": [1.5, 2]}))
    assert cbor.detected == "cbor"
    assert cbor.rendering.value == {"name": "pump", "levels": [1.5, 2]}
    assert json.loads(cbor.rendering.text or "") == cbor.rendering.value


def test_binary_formats_need_the_whole_payload_and_a_container() -> None:
    # "a" is a valid MessagePack integer and "hello" starts a CBOR string: both stay text.
    assert payload_view(b"a").detected == "text"
    assert payload_view(b"hello world").detected == "text"
    # A MessagePack map with trailing bytes is not MessagePack.
    assert payload_view(msgpack.packb([1, 2]) + b"\xc1").detected == "hex"


def test_text_without_control_characters_else_hex() -> None:
    assert payload_view("héllo\twörld\n".encode()).detected == "text"
    assert payload_view(b"\x1b[31mred").detected == "hex"
    assert payload_view(b"\xff\xfe\x00").detected == "hex"
    assert payload_view(b"").detected == "text"


def test_a_decoder_that_fails_says_why() -> None:
    view = payload_view(b"hello", fmt="msgpack")
    assert view.detected == "text" and view.rendering.format == "msgpack"
    assert view.rendering.error == "ExtraData: unpack(b) received extra data."
    assert "JSONDecodeError" in (payload_view(b"hello", fmt="json").rendering.error or "")
    assert "CBOR" in (payload_view(b"hello", fmt="cbor").rendering.error or "")
    assert len(payload_view(b"{" * 5000, fmt="json").rendering.error or "") <= 160
    assert payload_view(b"hello", fmt="nonsense").rendering.format == "text"


def test_the_hex_dump_reads_like_hexdump_c() -> None:
    assert hex_dump(b"Hello world, this is a hex dump!\x00\xff") == (
        "00000000  48 65 6c 6c 6f 20 77 6f  72 6c 64 2c 20 74 68 69  |Hello world, thi|\n"
        "00000010  73 20 69 73 20 61 20 68  65 78 20 64 75 6d 70 21  |s is a hex dump!|\n"
        "00000020  00 ff                                             |..|\n"
        "00000022"
    )
    assert payload_view(b"\x00\x01", fmt="base64").rendering.text == "AAE="


def test_a_payload_over_64_kib_shows_its_first_64_kib_until_asked_for_all() -> None:
    big = json.dumps({"blob": "x" * (1024 * 1024)}).encode()
    view = payload_view(big)
    assert view.truncated and view.shown == SHOWN_BYTES and view.size == len(big)
    assert view.detected == "text" and len(view.rendering.text or "") == SHOWN_BYTES
    assert "load the whole message" in view.errors["json"]
    whole = payload_view(big, full=True)
    assert not whole.truncated and whole.detected == "json"


def test_a_cut_multibyte_character_does_not_make_truncated_text_binary() -> None:
    view = payload_view("é".encode() * SHOWN_BYTES)  # the cut falls inside no character
    assert view.detected == "text"
    odd = payload_view(b"a" + "é".encode() * SHOWN_BYTES)  # the cut splits a character
    assert odd.detected == "text" and odd.shown == SHOWN_BYTES


def test_previews_are_one_line_with_control_characters_escaped() -> None:
    assert preview(b'{"a":  1,\n "b": "x"}', 19).text == '{"a":1,"b":"x"}'
    assert preview(b"line one\nline two", 17).text == "line one\\nline two"
    assert preview(b"\x00\x01\x02", 3).text == "00 01 02"
    long = preview(b"y" * 500, 500)
    assert len(long.text) == 120 and long.text.endswith("…")
    cut = preview(b'{"order": 1, "items": [', 10_000)  # a prefix of a big JSON payload
    assert cut.format == "json" and cut.text == '{"order": 1, "items": ['


def test_nats_headers_are_marked_and_repeats_kept() -> None:
    headers = {"Nats-Msg-Id": "abc", "X-Tag": ["one", "two"], "nats-rollup": "sub"}
    rows = header_rows(headers)
    assert [(r.name, r.value, r.nats) for r in rows] == [
        ("Nats-Msg-Id", "abc", True),
        ("X-Tag", "one", False),
        ("X-Tag", "two", False),
        ("nats-rollup", "sub", True),
    ]
    assert header_count(headers) == 4


@pytest.mark.parametrize(
    ("stream", "command"),
    [("ORDERS", "nats stream get ORDERS 42"), ("it's", "nats stream get 'it'\"'\"'s' 42")],
)
def test_the_nats_stream_get_command_is_shell_quoted(stream: str, command: str) -> None:
    assert nats_get_command(stream, 42) == command
