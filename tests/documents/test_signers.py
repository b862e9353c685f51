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


def test_threads_signing_at_once_each_see_the_whole_certificate(catalog_a):
    """pyHanko reads the signer's certificate through asn1crypto, which parses lazily and is
    not thread-safe: a signer shared by threads once failed issuance with
    KeyError('organization_name'). Threads switching as often as possible read the signer's
    name at once, on a fresh cache each round."""
    import sys
    import threading

    services._signer(catalog_a)  # the identity itself is made once, outside the race
    failures = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            services.forget_signers()
            start = threading.Barrier(6)

            def sign():
                start.wait()
                try:
                    assert services._signer(catalog_a)[1].subject_name.startswith(catalog_a.name)
                except Exception as exc:  # noqa: BLE001 — every failure is the finding
                    failures.append(repr(exc))

            threads = [threading.Thread(target=sign) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
