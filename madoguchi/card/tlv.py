"""BER-TLV on the card: the header of a DER object (to know how much to read) and the
private-class TLV records of the text-input-support application.

Tags are byte strings, as ISO 7816-4 treats them: the card writes the individual number
under `FF 10`, a non-minimal BER encoding of tag 16 that strict BER parsers (asn1crypto)
reject, so this small parser is our own. Every failure is a `MalformedAPDU` (a
`CardError`), never another exception.
"""

from __future__ import annotations

from .apdu import MalformedAPDU

# Files on the card are small; a header claiming more than the 15-bit READ BINARY offset
# range can address is malformed.
MAX_FILE_LENGTH = 0x7FFF + 256
MAX_TAG_BYTES = 3


def _header(head: bytes) -> tuple[int, int, int]:
    """(tag bytes, header bytes, content length) of the definite-length TLV starting `head`."""
    head = bytes(head)
    if not head:
        raise MalformedAPDU("empty TLV")
    i = 1
    if head[0] & 0x1F == 0x1F:  # multi-byte tag: continuation bit b8 on all but the last
        while True:
            if i >= len(head):
                raise MalformedAPDU("truncated TLV tag")
            if i >= MAX_TAG_BYTES:
                raise MalformedAPDU(f"TLV tag longer than {MAX_TAG_BYTES} bytes")
            more = head[i] & 0x80
            i += 1
            if not more:
                break
    tag_len = i
    if i >= len(head):
        raise MalformedAPDU("truncated TLV length")
    first = head[i]
    i += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise MalformedAPDU("indefinite length is not allowed here")
        if count > 3:
            raise MalformedAPDU(f"TLV length of {count} bytes")
        if i + count > len(head):
            raise MalformedAPDU("truncated TLV length")
        length = int.from_bytes(head[i:i + count], "big")
        i += count
    if i + length > MAX_FILE_LENGTH:
        raise MalformedAPDU(f"TLV of {length} bytes is larger than any file on the card")
    return tag_len, i, length


def header_length(head: bytes) -> tuple[int, int]:
    """(header bytes, content bytes); `head` may end right after the header."""
    _tag, header, length = _header(head)
    return header, length


def total_length(head: bytes) -> int:
    header, content = header_length(head)
    return header + content


def parse_one(data: bytes) -> tuple[bytes, bool, bytes, bytes]:
    """(tag bytes, constructed, content, rest) of the first TLV in `data`."""
    data = bytes(data)
    tag_len, header, length = _header(data)
    if header + length > len(data):
        raise MalformedAPDU(f"TLV of {length} bytes truncated to {len(data) - header}")
    return data[:tag_len], bool(data[0] & 0x20), data[header:header + length], data[header + length:]


def parse_children(content: bytes) -> list[tuple[bytes, bytes]]:
    """The (tag bytes, content) of each TLV in `content`; stops at FF/00 filler."""
    out: list[tuple[bytes, bytes]] = []
    rest = bytes(content)
    while rest.strip(b"\xff\x00"):
        tag, _constructed, value, rest = parse_one(rest)
        out.append((tag, value))
    return out


def emit(tag: bytes, content: bytes) -> bytes:
    """Tag, definite length (short form below 128, else 81/82/83 + length), content."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes(tag) + length + bytes(content)
