"""Attachment sanitisers (無害化): the plug point's interface and registry.

A sanitiser rebuilds an attachment of the content types it declares from what a reviewer
needs and nothing else (content disarm and reconstruction, not a virus scan). One is
chosen by the attachment's sniffed content type (for_content_type); a type no sanitiser
declares is rejected, so nothing unsanitised reaches the back office. Pure Python: no
Django here.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from madoguchi.registry import Registry


class Rejected(Exception):
    """The attachment cannot be made safe; `reason` says why (shown to staff)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass
class Sanitised:
    content: bytes
    content_type: str
    removed: list = field(default_factory=list)  # what was taken out, for the audit event


class Sanitiser(ABC):
    content_types: frozenset[str]  # the sniffed content types it takes

    @abstractmethod
    def sanitise(self, content: bytes, content_type: str) -> Sanitised:
        """The rebuilt attachment, or Rejected with the reason."""


SANITISERS: Registry[Sanitiser] = Registry("attachment sanitiser")


def for_content_type(content_type: str) -> Sanitiser:
    """The registered sanitiser that takes `content_type`; Rejected when none does."""
    for entry in SANITISERS.entries():
        if content_type in entry.implementation.content_types:
            return entry.implementation
    raise Rejected(f"unsupported type {content_type}")
