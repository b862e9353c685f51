"""The signature of an application: the CMS of a `sign` ceremony, checked against the
checked document and bound to its ceremony.
"""

import hashlib

from django.utils.translation import gettext as _

from madoguchi.municipalities.tenancy import tenant

from ..models import Application
from ..statemachine import Status
from .common import ApplicationError, Prepared, Signed, signed_document


def _check_signature(prepared: Prepared, person, signed: Signed | None) -> dict:
    """The verification record of a CMS by this person over exactly these bytes."""
    if signed is None:
        if prepared.needs_signature:
            raise ApplicationError("signature_required", _("この手続には電子署名が必要です。"))
        return {}
    from madoguchi.ceremonies.pki import validator
    from madoguchi.identity.services import CertificateRef, person_for_credential
    from madoguchi.pki.errors import PKIError
    from madoguchi.pki.verify import verify_detached

    if bytes(signed.document) != prepared.document:
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    try:
        verified = verify_detached(bytes(signed.cms), prepared.document, validator())
    except PKIError:
        raise ApplicationError("signature_invalid", _("電子署名を確認できませんでした。")) from None
    if not verified.ok:
        raise ApplicationError("signature_invalid", _("電子署名を確認できませんでした。"))
    signer = person_for_credential(CertificateRef.from_der(verified.chain[0])) if verified.chain else None
    if signer is None or signer.pk != person.pk:
        raise ApplicationError("wrong_signer", _("申請者本人の電子署名ではありません。"), status=403)
    _check_binding(prepared, person, verified.ceremony, bytes(signed.cms), taken=signed.ceremony)
    return {"sign": verified.as_dict()}


def _check_binding(prepared: Prepared, person, binding, cms: bytes, taken=None) -> None:
    """The CMS must carry the binding (docs/ceremony.md) of a `sign` ceremony of this
    municipality's portal, opened over exactly this document, completed by this person
    with exactly this CMS. A CMS made for another ceremony, audience, document or
    municipality is refused here, whichever way it reached submit(); and a signed
    document already submitted is never submitted again (a second application from one
    signature). `taken`: the ceremony row this request already read (and consumed), used
    when it is the one the binding names; otherwise the row is read here."""
    from madoguchi.ceremonies.models import Ceremony

    municipality = prepared.version.municipality
    refused = ApplicationError("wrong_ceremony", _("電子署名がこの申請のための手続きのものではありません。"))
    if binding is None or binding.purpose != "sign" or binding.audience != f"{municipality.code}:portal":
        raise refused
    digest = hashlib.sha256(prepared.document).hexdigest()
    with tenant(municipality):
        if taken is not None and taken.public_id == binding.ceremony_id and taken.municipality_id == municipality.pk:
            ceremony = taken
        else:
            ceremony = Ceremony.objects.filter(public_id=binding.ceremony_id, purpose=Ceremony.Purpose.SIGN).first()
        if ceremony is None or ceremony.purpose != Ceremony.Purpose.SIGN \
                or bytes(ceremony.challenge) != binding.challenge \
                or ceremony.audience != binding.audience or ceremony.document_sha256 != digest \
                or ceremony.status not in (Ceremony.Status.COMPLETED, Ceremony.Status.CONSUMED) \
                or ceremony.person_id != person.pk or bytes(ceremony.signature or b"") != cms:
            raise refused
        if Application.objects.filter(person=person, document_sha256=digest).exclude(status=Status.DRAFT).exists():
            raise ApplicationError("signature_used", _("この電子署名はすでに別の申請に使われています。"), status=409)


def _signed_by_ceremony(draft: Application, ceremony_id, poll_token) -> Signed:
    """The CMS of the completed `sign` ceremony over the draft, taken once with the opener's
    poll token (the ceremony is consumed)."""
    from madoguchi.ceremonies import services as ceremonies

    if not isinstance(ceremony_id, str) or not isinstance(poll_token, str):
        raise ApplicationError("signature_required", _("この手続には電子署名が必要です。"),
                               {"/ceremony_id": [_("署名の手続きを指定してください。")]})
    ceremony = ceremonies.take_result(ceremony_id, poll_token)
    document = signed_document(draft)
    if ceremony.purpose != "sign" or ceremony.document_sha256 != hashlib.sha256(document).hexdigest():
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    return Signed(document=document, cms=bytes(ceremony.signature), ceremony=ceremony)
