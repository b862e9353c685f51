"""Attachment sanitisation (無害化) before an attachment crosses into the back office.

Content disarm and reconstruction, not a virus scan: every attachment is rebuilt from
what a reviewer needs and nothing else, by the sanitiser registered for its sniffed
content type (sanitisers/: `image` for JPEG and PNG, `pdf`); a type no sanitiser takes
is rejected.

The resident's original stays as it was: its SHA-256 is in the signed document, so the
signature keeps verifying. The sanitised copy is what staff open. This module knows
nothing of Django; services call it.
"""

from .sanitisers import Rejected, Sanitised, for_content_type

__all__ = ["Rejected", "Sanitised", "sanitise"]


def sanitise(content: bytes, content_type: str) -> Sanitised:
    return for_content_type(content_type).sanitise(content, content_type)
