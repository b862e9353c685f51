"""The request id of the work in progress, readable from logging and the audit trail."""

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("madoguchi_request_id", default=None)

# An incoming X-Request-ID is kept only when it is short and plain, so a client cannot
# inject text into logs, and holds no twelve-digit run: the id is logged and audited as it
# is, and an individual number must not ride in on it.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_TWELVE_DIGITS = re.compile(r"[0-9]{4}[-]?[0-9]{4}[-]?[0-9]{4}")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _ACCEPTABLE.match(incoming) and not _TWELVE_DIGITS.search(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)
