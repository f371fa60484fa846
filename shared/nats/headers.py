"""NATS message headers as JetDeck shows and accepts them: `{name: value}`, a list of values
where a name repeats (which nats-py's dict would reduce to the last value)."""

from __future__ import annotations

from typing import Any

HeaderValues = dict[str, str | list[str]]


class RawHeaders(dict[str, str]):
    """nats-py's parsed headers plus the raw block they came from."""

    def __init__(self, parsed: dict[str, str], *, raw: bytes, simple: bool = False):
        super().__init__(parsed)
        self.raw = raw
        self.simple = simple  # no status line, no repeated name: the dict is the whole story


def parse_for_client(raw: bytes) -> RawHeaders | None:
    """What nats-py's own header parser returns (the last value per name, plus `Status` and
    `Description` from a status line), in one pass, keeping the raw block for repeats."""
    first, _, rest = raw.partition(b"\r\n")
    parsed: dict[str, str] = {}
    status_line = first[8:].strip()  # after b"NATS/1.0"
    if status_line:
        code, _, description = status_line.partition(b" ")
        if code.isdigit():
            parsed["Status"] = code.decode()
        if description:
            parsed["Description"] = description.decode("utf-8", "replace")
    lines = 0
    for line in rest.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep and name and b" " not in name:
            parsed[name.decode("ascii", "replace")] = value.strip().decode("utf-8", "replace")
            lines += 1
    return RawHeaders(parsed, raw=raw, simple=not status_line and lines == len(parsed))


def parse_header_block(raw: bytes, *, skip: frozenset[str] = frozenset()) -> HeaderValues:
    """`NATS/1.0[ status]\\r\\nName: value\\r\\n…` → `{name: value | [values]}`."""
    out: HeaderValues = {}
    lines = raw.split(b"\r\n")
    for line in lines[1:]:
        name_b, sep, value_b = line.partition(b":")
        if not sep:
            continue
        name = name_b.strip().decode("ascii", "replace")
        if not name or name in skip:
            continue
        value = value_b.strip().decode("utf-8", "replace")
        current = out.get(name)
        if current is None:
            out[name] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            out[name] = [current, value]
    return out


def message_headers(headers: Any, *, skip: frozenset[str] = frozenset()) -> HeaderValues:
    """The headers of a received nats-py message, repeats kept when the raw block is known."""
    if not headers:
        return {}
    if getattr(headers, "simple", False):
        return {k: v for k, v in headers.items() if k not in skip}
    raw = getattr(headers, "raw", None)
    if raw is not None:
        return parse_header_block(raw, skip=skip)
    return {k: v for k, v in headers.items() if k not in skip}


def header_pairs(headers: HeaderValues | None) -> list[tuple[str, str]]:
    """`{name: value | [values]}` → ordered (name, value) pairs, refusing what would break the
    header block (a CR/LF or colon in a name, a CR/LF in a value)."""
    from shared.errors import Invalid

    pairs: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        if not name or any(c in name for c in "\r\n: \t") or not name.isascii():
            raise Invalid(f"Header name {name!r} is not valid", code="invalid_header")
        for one in value if isinstance(value, list) else [value]:
            if "\r" in one or "\n" in one:
                raise Invalid(
                    f"Header {name!r} has a line break in its value", code="invalid_header"
                )
            pairs.append((name, one))
    return pairs


def encode_headers(pairs: list[tuple[str, str]]) -> bytes:
    block = bytearray(b"NATS/1.0\r\n")
    for name, value in pairs:
        block += f"{name}: {value}\r\n".encode()
    block += b"\r\n"
    return bytes(block)
