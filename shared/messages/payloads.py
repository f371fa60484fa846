"""How the console shows a message: its payload rendered as JSON, text, a hex dump, base64,
or MessagePack / CBOR decoded to JSON; a one-line preview for list rows; its headers with
NATS' own marked; and the `nats stream get` command that fetches it.

Detection: JSON when the payload parses; else MessagePack, then CBOR, but only when the
decoder consumes the whole payload and yields a map or array (a lone byte is a valid
MessagePack integer, so anything else would "decode" most text); else text when it is
UTF-8 without control characters; else hex. A payload over `SHOWN_BYTES` is rendered from
its first `SHOWN_BYTES` only (`truncated`), unless the caller asks for the whole of it.

Nothing here builds HTML from strings: `json_lines` gives tokens a template escapes, and
`json_markup` escapes every token itself (markupsafe) for a template that wants one value.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

import cbor2
import msgpack
from markupsafe import Markup, escape

from shared.messages.schemas import HeaderValue

SHOWN_BYTES = 64 * 1024  # what a message view renders unless asked for the whole payload
PREVIEW_CHARS = 120
ERROR_CHARS = 160
PRETTY_DEPTH = 64  # deeper JSON is shown compact, on one line

Format = Literal["json", "msgpack", "cbor", "text", "hex", "base64"]
FORMATS: tuple[Format, ...] = ("json", "msgpack", "cbor", "text", "hex", "base64")
# Control characters that make a payload binary rather than text (tab, LF, CR are text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class DecodeFailed(ValueError):
    """A decoder refused the payload; the message says why, shortened."""


def _why(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


# ---- decoders -------------------------------------------------------------------------------


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A MessagePack / CBOR value as JSON can hold it: bytes as `{"$base64": …}`, times as
    RFC 3339, non-string keys as strings, tags and extension types spelt out."""
    if depth > 200:
        raise DecodeFailed("nested deeper than 200 levels")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else json.dumps(_jsonable(k, depth + 1))): _jsonable(
                v, depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, msgpack.ExtType):
        return {"$ext": value.code, "$base64": base64.b64encode(value.data).decode("ascii")}
    if isinstance(value, cbor2.CBORTag):
        return {"$tag": value.tag, "value": _jsonable(value.value, depth + 1)}
    if value is cbor2.undefined:
        return None
    return str(value)


def decode_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DecodeFailed(_why(exc)) from None


def _msgpack_value(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, timestamp=3)
    except Exception as exc:  # msgpack raises many unrelated types for bad input
        raise DecodeFailed(_why(exc)) from None


def _cbor_value(data: bytes) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises CBORDecodeError and friends
        raise DecodeFailed(_why(exc)) from None
    if stream.tell() != len(data):  # cbor2.loads would ignore trailing bytes
        raise DecodeFailed(f"{len(data) - stream.tell()} bytes left after the first CBOR item")
    return value


def decode_msgpack(data: bytes) -> Any:
    """The whole payload as one MessagePack value (trailing bytes are an error)."""
    return _jsonable(_msgpack_value(data))


def decode_cbor(data: bytes) -> Any:
    """The whole payload as one CBOR item (trailing bytes are an error)."""
    return _jsonable(_cbor_value(data))


def _odd_keys(value: Any, budget: list[int]) -> int:
    """How many map keys are not strings (bounded walk): the less likely reading of bytes
    that are both valid MessagePack and valid CBOR has more."""
    budget[0] -= 1
    if budget[0] < 0:
        return 0
    if isinstance(value, dict):
        return sum((not isinstance(k, str)) + _odd_keys(v, budget) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_odd_keys(v, budget) for v in value)
    return 0


def decode_text(data: bytes, *, truncated: bool = False) -> str:
    """UTF-8; a cut multi-byte character at the end of a truncated payload is dropped."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8")
        raise DecodeFailed(_why(exc)) from None


# ---- hex dump -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HexRow:
    offset: str  # 8 hex digits
    hex: str  # 16 bytes as `hexdump -C` spaces them (two groups of 8)
    ascii: str  # printable ASCII, `.` for the rest


_PRINTABLE = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))


def hex_rows(data: bytes) -> Iterator[HexRow]:
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        hexed = f"{chunk[:8].hex(' '):<23}  {chunk[8:].hex(' '):<23}"
        yield HexRow(f"{at:08x}", hexed, chunk.translate(_PRINTABLE).decode("ascii"))


def hex_dump(data: bytes) -> str:
    """`hexdump -C` output: offset, 16 bytes in hex, the ASCII column, the end offset."""
    lines = [f"{r.offset}  {r.hex}  |{r.ascii}|" for r in hex_rows(data)]
    lines.append(f"{len(data):08x}")
    return "\n".join(lines)


# ---- JSON as tokens -------------------------------------------------------------------------

TokenKind = Literal["key", "string", "number", "bool", "null", "punct"]


@dataclass(slots=True)
class JsonLine:
    """One line of pretty-printed JSON. `opens` marks a line ending in `{` or `[` (the
    template may start a collapsible block there, summarised by `children` entries);
    `closes` marks the line with the matching `}` or `]`."""

    depth: int
    tokens: list[tuple[TokenKind, str]]
    opens: bool = False
    closes: bool = False
    children: int = 0


def json_lines(value: Any) -> list[JsonLine]:
    """`value` pretty-printed as lines of typed tokens (text is unescaped: a template's
    autoescape or `json_markup` escapes it)."""
    lines: list[JsonLine] = []

    def scalar(v: Any) -> tuple[TokenKind, str]:
        if v is None:
            return ("null", "null")
        if isinstance(v, bool):
            return ("bool", "true" if v else "false")
        if isinstance(v, int | float):
            return ("number", json.dumps(v))
        return ("string", json.dumps(v, ensure_ascii=False))

    def emit(v: Any, depth: int, prefix: list[tuple[TokenKind, str]], comma: bool) -> None:
        if depth > PRETTY_DEPTH:  # indentation grows with the square of the depth
            raise RecursionError(f"nested deeper than {PRETTY_DEPTH} levels")
        tail: list[tuple[TokenKind, str]] = [("punct", ",")] if comma else []
        if isinstance(v, dict | list) and v:
            opener, closer = ("{", "}") if isinstance(v, dict) else ("[", "]")
            lines.append(JsonLine(depth, [*prefix, ("punct", opener)], True, False, len(v)))
            items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
            for i, (k, child) in enumerate(items):
                key: list[tuple[TokenKind, str]] = (
                    [("key", json.dumps(k, ensure_ascii=False)), ("punct", ": ")]
                    if isinstance(v, dict)
                    else []
                )
                emit(child, depth + 1, key, i < len(items) - 1)
            lines.append(JsonLine(depth, [("punct", closer), *tail], False, True))
        elif isinstance(v, dict | list):
            lines.append(
                JsonLine(depth, [*prefix, ("punct", "{}" if isinstance(v, dict) else "[]"), *tail])
            )
        else:
            lines.append(JsonLine(depth, [*prefix, scalar(v), *tail]))

    emit(value, 0, [], False)
    return lines


_OPEN = {
    kind: f'<span class="json-{kind}">'
    for kind in ("key", "string", "number", "bool", "null", "punct")
}


def json_markup(lines: list[JsonLine], *, indent: int = 2) -> Markup:
    """The lines as `<span class="json-KIND">` tokens, one text line each, every token
    escaped (for a `<pre>`; the template adds collapsing if it wants it)."""
    out: list[str] = []
    for line in lines:
        out.append(" " * (indent * line.depth))
        for kind, text in line.tokens:
            out.append(f"{_OPEN[kind]}{escape(text)}</span>")
        out.append("\n")
    # Safe: every token's text went through escape(); the tags are our constants.
    return Markup("".join(out[:-1]))  # noqa: S704


# ---- rendering ------------------------------------------------------------------------------


@dataclass
class Rendering:
    """One format's view of the payload: `text` (pretty JSON, text, hex dump or base64), for
    JSON-like formats also `value` and `lines` (made when first read); or `error` saying
    why the decoder failed."""

    format: Format
    raw_text: str | None = None
    value: Any = None
    error: str | None = None
    decoded: bool = False  # `value` holds a decoded JSON-like value (null is one too)

    @property
    def ok(self) -> bool:
        return self.error is None

    @cached_property
    def lines(self) -> list[JsonLine] | None:
        if not self.decoded:
            return None
        try:
            return json_lines(self.value)
        except RecursionError:  # nested deeper than PRETTY_DEPTH: shown compact
            return None

    @cached_property
    def text(self) -> str | None:
        if not self.decoded:
            return self.raw_text
        lines = self.lines
        if lines is None:
            return json.dumps(self.value, ensure_ascii=False)
        return "\n".join(
            "  " * line.depth + "".join(text for _, text in line.tokens) for line in lines
        )


@dataclass
class PayloadView:
    size: int  # the whole payload's size in bytes
    shown: int  # bytes rendered (size, or SHOWN_BYTES when truncated)
    truncated: bool
    detected: Format  # the format chosen by detection
    rendering: Rendering  # the format asked for, else the detected one
    errors: dict[str, str] = field(default_factory=dict)  # why detection passed formats over


def render(data: bytes, fmt: Format, *, truncated: bool = False) -> Rendering:
    """`data` in one format; a decoder that fails gives `error`, never an exception."""
    if fmt == "hex":
        return Rendering("hex", raw_text=hex_dump(data))
    if fmt == "base64":
        return Rendering("base64", raw_text=base64.b64encode(data).decode("ascii"))
    try:
        if fmt == "text":
            return Rendering("text", raw_text=decode_text(data, truncated=truncated))
        if truncated:
            raise DecodeFailed(
                f"only the first {len(data)} bytes are loaded: load the whole message to decode it"
            )
        decoder = {"json": decode_json, "msgpack": decode_msgpack, "cbor": decode_cbor}[fmt]
        value = decoder(data)
    except DecodeFailed as exc:
        return Rendering(fmt, error=str(exc))
    return Rendering(fmt, value=value, decoded=True)


def detect(data: bytes, *, truncated: bool = False) -> tuple[Rendering, dict[str, str]]:
    """The rendering detection chooses, and why each format before it was passed over."""
    passed: dict[str, str] = {}
    if data:
        as_json = render(data, "json", truncated=truncated)
        if as_json.ok:
            return as_json, passed
        passed["json"] = as_json.error or ""
        binary: list[tuple[int, Format]] = []
        decoders: tuple[tuple[Format, Any], ...] = (
            ("msgpack", _msgpack_value),
            ("cbor", _cbor_value),
        )
        for fmt, raw in decoders:
            if truncated:
                passed[fmt] = f"only the first {len(data)} bytes are loaded"
                continue
            try:
                value = raw(data)
            except DecodeFailed as exc:
                passed[fmt] = str(exc)
                continue
            if isinstance(value, dict | list):
                binary.append((_odd_keys(value, [10_000]), fmt))
            else:
                passed[fmt] = "decodes to a single value, not a map or array"
        if binary:  # both may read the same bytes: prefer the one with string keys
            best = min(binary, key=lambda b: b[0])[1]
            chosen = render(data, best)
            if chosen.ok:
                return chosen, passed
            passed[best] = chosen.error or ""
    text = render(data, "text", truncated=truncated)
    if text.ok and text.text is not None and not _CONTROL.search(text.text):
        return text, passed
    passed["text"] = text.error or "has control characters"
    return render(data, "hex"), passed


def payload_view(data: bytes, *, fmt: str | None = None, full: bool = False) -> PayloadView:
    """What a message view shows: the detected format (or `fmt` when given) of the first
    `SHOWN_BYTES` of the payload, or of all of it with `full=True`."""
    truncated = not full and len(data) > SHOWN_BYTES
    shown = data[:SHOWN_BYTES] if truncated else data
    chosen, passed = detect(shown, truncated=truncated)
    rendering = chosen
    asked = next((f for f in FORMATS if f == fmt), chosen.format)  # unknown: the detected one
    if asked != chosen.format:
        rendering = render(shown, asked, truncated=truncated)
    return PayloadView(
        size=len(data),
        shown=len(shown),
        truncated=truncated,
        detected=chosen.format,
        rendering=rendering,
        errors=passed,
    )


# ---- previews -------------------------------------------------------------------------------


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first `limit` characters with control characters escaped (`\\n`, `\\x1b`)."""
    head = text[: limit * 2]  # an escape widens a character: cut after escaping too
    escaped = _ESCAPE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), head)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


# One encoder for every preview (json.dumps with options builds a new one each call).
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class Preview:
    format: Format
    text: str


def preview(prefix: bytes, size: int, limit: int = PREVIEW_CHARS) -> Preview:
    """A list row's one-line preview from the first bytes of a payload of `size` bytes:
    compact JSON when the whole payload is here and decodes, else the text or the hex of
    the prefix."""
    truncated = len(prefix) < size
    chosen, _ = detect(prefix, truncated=truncated)
    if chosen.decoded:
        return Preview(chosen.format, one_line(_compact_json(chosen.value), limit))
    if chosen.format == "text":
        text = chosen.text or ""
        if truncated and text[:1] in "{[":
            return Preview("json", one_line(" ".join(text.split()), limit))
        return Preview("text", one_line(text, limit))
    return Preview("hex", one_line(prefix[: limit // 3].hex(" "), limit))


# ---- headers and commands -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderRow:
    name: str
    value: str
    nats: bool  # one of NATS' own headers (`Nats-…`): the view marks it


def is_nats_header(name: str) -> bool:
    return name.lower().startswith("nats-")


def header_rows(headers: dict[str, HeaderValue]) -> list[HeaderRow]:
    """One row per value, repeats kept in order."""
    return [
        HeaderRow(name, one, is_nats_header(name))
        for name, value in headers.items()
        for one in (value if isinstance(value, list) else [value])
    ]


def header_count(headers: dict[str, HeaderValue]) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for v in headers.values())


def nats_get_command(stream: str, seq: int) -> str:
    """The natscli command that prints the same message."""
    return f"nats stream get {shlex.quote(stream)} {int(seq)}"
