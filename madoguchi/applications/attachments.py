"""Attachment checks: the type is sniffed from the content, never taken from the name."""

import re
import unicodedata

from django.core.files.storage import default_storage

SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(content: bytes) -> str | None:
    for magic, mime in SIGNATURES:
        if content.startswith(magic):
            return mime
    return None


def clean_name(name: str) -> str:
    """A display name: the last path component, NFC, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:200] or "attachment"


def delete_files(names) -> None:
    """Deletes stored files by name; one already gone is what was wanted."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            pass
