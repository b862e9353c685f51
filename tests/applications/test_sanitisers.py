"""The attachment sanitisers' registry (applications/sanitisers/): the built-in sanitisers
by name, the choice by sniffed content type, today's refusal of a type none takes, and a
sanitiser plugged in by registration alone chosen by sanitise()."""

import pytest

from madoguchi.applications.sanitise import Rejected, Sanitised, sanitise
from madoguchi.applications.sanitisers import SANITISERS, Sanitiser, for_content_type
from madoguchi.applications.sanitisers.image import ImageSanitiser
from madoguchi.applications.sanitisers.pdf import PdfSanitiser
from madoguchi.registry import Entry

from .test_sanitise import png_with_text


def test_the_built_in_sanitisers_and_the_types_they_take():
    assert SANITISERS.names() == ["image", "pdf"]
    assert isinstance(for_content_type("image/jpeg"), ImageSanitiser)
    assert isinstance(for_content_type("image/png"), ImageSanitiser)
    assert isinstance(for_content_type("application/pdf"), PdfSanitiser)
    for entry in SANITISERS.entries():
        assert entry.description


@pytest.mark.parametrize("content_type", ["image/gif", "text/html", "application/octet-stream", ""])
def test_a_type_no_sanitiser_takes_is_rejected(content_type):
    with pytest.raises(Rejected, match=f"^unsupported type {content_type}$"):
        for_content_type(content_type)


class _Plain(Sanitiser):
    content_types = frozenset({"text/plain"})

    def sanitise(self, content, content_type):
        return Sanitised(content.decode("ascii", "replace").encode("ascii", "replace"), content_type, ["non-ASCII"])


def test_a_registered_sanitiser_is_chosen_by_its_content_type(monkeypatch):
    with pytest.raises(Rejected, match="unsupported type text/plain"):
        sanitise(b"caf\xc3\xa9", "text/plain")
    monkeypatch.setitem(SANITISERS._entries, "plain", Entry("plain", _Plain(), "test: ASCII text"))
    assert sanitise(b"caf\xc3\xa9", "text/plain") == Sanitised(b"caf??", "text/plain", ["non-ASCII"])
    # The built-in ones are still chosen for their own types.
    assert sanitise(png_with_text(), "image/png").removed == ["Comment"]
