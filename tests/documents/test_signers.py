"""Document signers by configured name (documents/signers.py)."""

import pytest

from madoguchi.documents import services
from madoguchi.documents.signers import SIGNERS


def test_the_signers_say_what_they_are():
    assert SIGNERS.names() == ["development-lgpki", "installed"]
    assert SIGNERS.get("development-lgpki").development
    assert SIGNERS.entry("development-lgpki").description.startswith("development:")
    assert not SIGNERS.get("installed").development


def test_only_the_configured_signers_are_asked(catalog_a, settings):
    assert services.identity(catalog_a).source == "development"
    settings.DOCUMENT_SIGNERS = ["installed"]  # development keys allowed, but not configured
    with pytest.raises(services.DocumentError, match="install-key"):
        services.identity(catalog_a)


def test_an_unknown_signer_is_refused_with_the_known_ones(catalog_a, settings):
    settings.DOCUMENT_SIGNERS = ["installed", "hsm"]
    with pytest.raises(services.DocumentError) as refused:
        services.identity(catalog_a)
    assert str(refused.value) == "unknown document signer 'hsm'; known: development-lgpki, installed"
