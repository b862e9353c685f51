"""Text in JSON that a client sent and that cannot be kept: lone (unpaired) UTF-16
surrogates. JSON allows `"\\ud800"`; Python decodes it into a str that UTF-8 cannot encode,
so the database, the RFC 8785 canonical form and any log line would fail on it later —
as a 500. Every entry point that reads JSON refuses such text up front, naming where it is
(a JSON pointer, RFC 6901), in keys as well as values.
"""

import json
import re

from ninja.parser import Parser

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def token(key) -> str:
    """One reference token of a JSON pointer (RFC 6901 escaping)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def lone_surrogates(value, pointer: str = "") -> list[str]:
    """JSON pointers of the strings (object keys or values) holding a lone surrogate. A key
    is reported at the member's pointer, with the surrogate replaced so that the pointer
    itself can be encoded."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if LONE_SURROGATE.search(key):
                found.append(f"{pointer}/{token(LONE_SURROGATE.sub(REPLACEMENT, key))}")
            else:
                found += lone_surrogates(v, f"{pointer}/{token(key)}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += lone_surrogates(v, f"{pointer}/{i}")
    elif isinstance(value, str) and LONE_SURROGATE.search(value):
        found.append(pointer or "/")
    return found


class LoneSurrogates(ValueError):
    def __init__(self, pointers: list[str]):
        self.pointers = pointers
        super().__init__("lone surrogates at " + ", ".join(pointers))


class StrictJsonParser(Parser):
    """django-ninja's JSON parser, refusing lone surrogates anywhere in the body. ninja
    wraps any parser error into HttpError(400) `from` it: the API's HttpError handler finds
    the pointers on `exc.__cause__` (see `pointers_of`)."""

    def parse_body(self, request):
        body = json.loads(request.body)
        found = lone_surrogates(body)
        if found:
            raise LoneSurrogates(found)
        return body


def pointers_of(exc: BaseException) -> list[str] | None:
    """The pointers of a LoneSurrogates refusal behind `exc`, else None."""
    cause = exc.__cause__
    return cause.pointers if isinstance(cause, LoneSurrogates) else None
