"""The signature of an application: the result of its `sign` ceremony, checked against the
checked document and the ceremony's stored verification record.

The CMS is verified once, in the ceremony, when the card client completes it
(ceremonies.services.complete: the chain, revocation, the binding); the ceremony stores
the record with the exact CMS bytes and the person the signing certificate belongs to.
submit() does not verify the CMS again: ceremonies.callers.signed_record checks that the
CMS is over exactly this document and is the one the named ceremony (of this portal, over
this document's digest, completed) verified, and the record gives the signer. A second
verification would only re-check revocation minutes later, at the cost of a chain
validation and a CRL/OCSP look-up per submission.
"""

import hashlib

from django.utils.translation import gettext as _

from madoguchi.ceremonies import callers as ceremonies
from madoguchi.municipalities.tenancy import tenant

from ..models import Application
from ..statemachine import Status
from .common import ApplicationError, Prepared, Signed, signed_document


def _verified_record(prepared: Prepared, signed: Signed):
    """The ceremony's record of a CMS over exactly this document (online or at the counter)."""
    if bytes(signed.document) != prepared.document:
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    try:
        return ceremonies.signed_record(bytes(signed.cms), prepared.document,
                                        municipality=prepared.version.municipality, taken=signed.ceremony)
    except ceremonies.SignatureRefused as exc:
        if exc.reason == "not_verified":
            raise ApplicationError("signature_invalid", _("電子署名を確認できませんでした。")) from None
        raise ApplicationError("wrong_ceremony", _("電子署名がこの申請のための手続きのものではありません。")) from None


def _check_signature(prepared: Prepared, person, signed: Signed | None) -> dict:
    """The verification record of a CMS by this person over exactly these bytes."""
    if signed is None:
        if prepared.needs_signature:
            raise ApplicationError("signature_required", _("この手続きには電子署名が必要です。"))
        return {}
    municipality = prepared.version.municipality
    record = _verified_record(prepared, signed)
    if record.person_id is None or record.person_id != person.pk:
        raise ApplicationError("wrong_signer", _("申請者本人の電子署名ではありません。"), status=403)
    # A signed document already submitted is never submitted again (a second application
    # from one signature).
    digest = hashlib.sha256(prepared.document).hexdigest()
    with tenant(municipality):
        if Application.objects.filter(person=person, document_sha256=digest).exclude(status=Status.DRAFT).exists():
            raise ApplicationError("signature_used", _("この電子署名はすでに別の申請に使われています。"), status=409)
    return record.verification


def signer_is(verification: dict, facts) -> bool:
    """Whether the signing certificate's basic four facts (the ceremony's verification record)
    are the person's `facts` (identity.FourFacts): the name (normalised, or its substitute
    form), the birth date and the sex. At the counter the card read proved who is there; the
    signature must be that person's."""
    from madoguchi.residents.names import search_key

    signer = ((verification or {}).get("sign") or {}).get("facts") or {}
    names = {search_key(signer.get("name") or ""), search_key(signer.get("name_substitute") or "")} - {""}
    return bool(names) and search_key(facts.name) in names and signer.get("birth") == facts.birth_date.isoformat() \
        and signer.get("sex") == facts.sex


def check_counter_signature(prepared: Prepared, signed: Signed, facts) -> dict:
    """A CMS made at the counter (書かない窓口): over exactly this document, the one its `sign`
    ceremony verified (the chain, revocation and binding, as for an online application), by
    the resident the card read identified (`facts`), and not already used by an application."""
    municipality = prepared.version.municipality
    record = _verified_record(prepared, signed)
    if not signer_is(record.verification, facts):
        raise ApplicationError("wrong_signer", _("申請者本人の電子署名ではありません。"), status=403)
    digest = hashlib.sha256(prepared.document).hexdigest()
    with tenant(municipality):
        if Application.objects.filter(document_sha256=digest).exclude(status=Status.DRAFT).exists():
            raise ApplicationError("signature_used", _("この電子署名はすでに別の申請に使われています。"), status=409)
    return record.verification


def signature_content(draft: Application, document: bytes | None = None) -> dict:
    """What the `sign` ceremony over a draft holds: its document, or only the document's
    SHA-256 when it holds individual numbers (they never leave the sealed draft; the card
    signs the digest, as the national app does)."""
    if draft.document_key_id:
        return {"document_sha256": draft.document_sha256}
    return {"document": document if document is not None else signed_document(draft)}


def signed_by(draft: Application, result: ceremonies.Result) -> Signed:
    """The draft's document and the CMS of the `sign` ceremony result taken for it."""
    document = signed_document(draft)
    if result.purpose != ceremonies.SIGN or result.document_sha256 != hashlib.sha256(document).hexdigest() \
            or result.signature is None:
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    return Signed(document=document, cms=result.signature, ceremony=result)


def _signed_by_ceremony(draft: Application, ceremony_id, poll_token) -> Signed:
    """The CMS of the completed `sign` ceremony over the draft, taken once with the opener's
    poll token (the ceremony is consumed)."""
    if not isinstance(ceremony_id, str) or not isinstance(poll_token, str):
        raise ApplicationError("signature_required", _("この手続きには電子署名が必要です。"),
                               {"/ceremony_id": [_("署名の手続きを指定してください。")]})
    return signed_by(draft, ceremonies.take(ceremony_id, poll_token))
