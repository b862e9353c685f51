"""submit() checks the CMS's ceremony binding itself (docs/ceremony.md), whatever path the
CMS took: another ceremony, audience, document or municipality is refused, and one signature
never makes two applications."""

import base64
import hashlib

import pytest

from madoguchi.applications.models import Application
from madoguchi.applications.services import ApplicationError, Signed, prepare, resubmit, submit, transition
from madoguchi.ceremonies import services as ceremonies
from madoguchi.municipalities.tenancy import tenant

from .conftest import version_of
from .helpers import JUMINHYO, card_cms, key, sign


def _open(municipality, document: bytes, audience=None):
    with tenant(municipality):
        ceremony, _ = ceremonies.open_ceremony("sign", audience=audience or f"{municipality.code}:portal",
                                               requester="t", reason="t",
                                               document_sha256=hashlib.sha256(document).hexdigest())
    return ceremony


def _complete(municipality, ceremony, cms: bytes, audience=None):
    with tenant(municipality):
        return ceremonies.complete(ceremony.public_id, {"audience": audience or ceremony.audience,
                                                        "cms": base64.urlsafe_b64encode(cms).decode()})


def refused(version, person, signed, code="wrong_ceremony"):
    with pytest.raises(ApplicationError) as exc:
        submit(version, person, JUMINHYO, idempotency_key=key(), signed=signed)
    assert exc.value.code == code, exc.value.code
    with tenant(version.municipality):
        assert not Application.objects.filter(status="payment_required").exists() or code == "signature_used"
    return exc.value


def test_a_cms_naming_no_real_ceremony_is_refused(catalog_a, pki, taro):
    version = version_of(catalog_a, "juminhyo-copy")
    error = refused(version, taro, sign(pki.taro, version, taro, JUMINHYO, ceremony_id="c" * 43))
    assert error.status == 400 and "電子署名" in str(error)


def test_a_cms_of_another_audience_or_a_ceremony_not_completed_is_refused(catalog_a, pki, taro):
    version = version_of(catalog_a, "juminhyo-copy")
    document = prepare(version, taro, JUMINHYO).document
    # A ceremony of a relying party's audience, completed: still not the portal's.
    other = _open(catalog_a, document, audience="139998:rp:library")
    cms = card_cms(pki.taro, document, other.public_id, bytes(other.challenge), "139998:rp:library")
    _complete(catalog_a, other, cms)
    refused(version, taro, Signed(document, cms))
    # The portal's ceremony, but the CMS was never handed to it (still open).
    pending = _open(catalog_a, document)
    cms = card_cms(pki.taro, document, pending.public_id, bytes(pending.challenge), pending.audience)
    refused(version, taro, Signed(document, cms))
    # Right id, wrong challenge.
    cms = card_cms(pki.taro, document, pending.public_id, b"\1" * 32, pending.audience)
    refused(version, taro, Signed(document, cms))


def test_a_ceremony_over_another_document_is_refused(catalog_a, pki, taro):
    version = version_of(catalog_a, "juminhyo-copy")
    document = prepare(version, taro, JUMINHYO).document
    decoy = prepare(version, taro, {**JUMINHYO, "copies": 1}).document
    ceremony = _open(catalog_a, decoy)  # opened over other bytes
    cms = card_cms(pki.taro, decoy, ceremony.public_id, bytes(ceremony.challenge), ceremony.audience)
    _complete(catalog_a, ceremony, cms)
    # The card's CMS over `document`, bound to that ceremony: the ceremony's digest differs.
    cms_here = card_cms(pki.taro, document, ceremony.public_id, bytes(ceremony.challenge), ceremony.audience)
    refused(version, taro, Signed(document, cms_here))


def test_a_ceremony_of_another_municipality_is_refused(catalog_a, muni_b, pki, taro):
    from madoguchi.procedures.services import install_catalog

    install_catalog(muni_b)
    version = version_of(catalog_a, "juminhyo-copy")
    document = prepare(version, taro, JUMINHYO).document
    foreign = _open(muni_b, document)
    cms = card_cms(pki.taro, document, foreign.public_id, bytes(foreign.challenge), foreign.audience)
    _complete(muni_b, foreign, cms)
    refused(version, taro, Signed(document, cms))


def test_one_signature_makes_one_application(catalog_a, pki, taro, reviewer_shimin):
    version = version_of(catalog_a, "juminhyo-copy")
    signed = sign(pki.taro, version, taro, JUMINHYO)
    application, created = submit(version, taro, JUMINHYO, idempotency_key=key(), signed=signed)
    assert created
    error = refused(version, taro, signed, code="signature_used")
    assert error.status == 409
    with tenant(catalog_a):
        assert Application.objects.count() == 1
    # A correction signed with the first submission's signature is refused too.
    transition(application, "received", role="system")  # the fee is paid (what payments does)
    transition(application, "returned", role="reviewer", actor=reviewer_shimin, comment="枚数を確認してください")
    with pytest.raises(ApplicationError) as exc:
        resubmit(application, taro, JUMINHYO, signed=signed)
    assert exc.value.code == "signature_used"


def test_submit_keeps_the_ceremonys_verification_record_without_verifying_again(catalog_a, pki, taro):
    """The CMS is verified once, when the card client completes the ceremony: the
    application's record is the ceremony's, not a second verification's."""
    from madoguchi.ceremonies.models import Ceremony

    version = version_of(catalog_a, "juminhyo-copy")
    signed = sign(pki.taro, version, taro, JUMINHYO)
    with tenant(catalog_a):
        stored = Ceremony.objects.get(signature=signed.cms)
    application, _ = submit(version, taro, JUMINHYO, idempotency_key=key(), signed=signed)
    assert stored.verification["sign"]["verdict"] == "valid"
    assert application.verification == stored.verification  # the same verified_at: not verified again


def test_the_result_of_a_ceremony_is_taken_once(catalog_a, pki, taro):
    from madoguchi.ceremonies import callers
    from madoguchi.ceremonies.errors import CeremonyError

    document = prepare(version_of(catalog_a, "juminhyo-copy"), taro, JUMINHYO).document
    opened = callers.open("sign", municipality=catalog_a, reason="t", document_sha256=hashlib.sha256(document).hexdigest())
    with tenant(catalog_a), pytest.raises(CeremonyError) as exc:
        callers.take(opened.id, opened.poll_token)  # not completed yet
    assert exc.value.code == "forbidden"
    cms = card_cms(pki.taro, document, opened.id, opened.challenge, opened.audience)
    with tenant(catalog_a):
        ceremonies.complete(opened.id, {"audience": opened.audience, "cms": base64.urlsafe_b64encode(cms).decode()})
        with pytest.raises(CeremonyError) as exc:
            callers.take(opened.id, "x" * 43)  # not the opener's token
        assert exc.value.code == "forbidden"
        result = callers.take(opened.id, opened.poll_token)
        assert (result.purpose, result.person_id, result.signature) == ("sign", taro.pk, cms)
        with pytest.raises(CeremonyError) as exc:
            callers.take(opened.id, opened.poll_token)
        assert exc.value.code == "already_used"
