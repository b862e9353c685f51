"""Issuing certificates from the resident record (and the seal registration), checking and
revoking them.

The one rule that matters most (the 2023 コンビニ交付 incidents printed another person's
certificate): a certificate's subject is the record linked to the signed-in Person, read
through that link **inside the transaction that writes the issue log**, with the record
locked until it commits. Nothing the browser sends names a person or a record; the form
only chooses the type and what to print.
"""

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.documents import services as documents
from madoguchi.documents.fonts import PDF_FONTS, require as require_fonts
from madoguchi.identity.services import resident_link_of
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.pki import pades
from madoguchi.residents import reading as register

from .models import Certificate, CertificateType, Kind

# Crockford base32 without I, L, O, U: read aloud or typed from paper without ambiguity.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ISSUE_NUMBER = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
OPTIONS = ("domicile", "relationship", "household_head")
PURPOSE_MAX = 100
DEFAULT_FEES = {Kind.RESIDENT_COPY: 300, Kind.RESIDENT_FACTS: 300, Kind.SEAL: 300}


class CertificateRefused(Exception):
    """Not issued online: `field` names the form field (or "" for the resident as a whole),
    the message says why and where to go instead."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Verdict:
    """What the public verification page may say of an issue number: no content."""

    found: bool
    certificate: Certificate | None = None

    @property
    def revoked(self) -> bool:
        return bool(self.certificate and self.certificate.revoked_at)


def new_issue_number() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalise_issue_number(text: str) -> str | None:
    """The issue number as typed or scanned (lower case, O for 0, I/L for 1, no hyphens);
    None when it cannot be one."""
    text = (text or "").strip().upper()[:40].replace("-", "").replace(" ", "")
    text = text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(text) != 16:
        return None
    number = "-".join(text[i:i + 4] for i in range(0, 16, 4))
    return number if ISSUE_NUMBER.match(number) else None


def ensure_types(municipality) -> None:
    """The types every municipality starts with (the demo and a new municipality)."""
    for kind, fee in DEFAULT_FEES.items():
        CertificateType.unscoped.get_or_create(municipality=municipality, kind=kind, defaults={"fee_yen": fee})


def offered() -> list[CertificateType]:
    return list(CertificateType.objects.filter(enabled=True).order_by("kind"))


def offered_type(kind: str) -> CertificateType:
    found = CertificateType.objects.filter(kind=kind, enabled=True).first() if kind in Kind.values else None
    if found is None:
        raise CertificateRefused("kind", _("証明書の種類を選んでください（この市区町村がオンラインで交付している証明書から）。"))
    return found


def verification_url(municipality, issue_number: str) -> str:
    return settings.SITE_URL + reverse("certificates:verify", args=[municipality.code, issue_number])


def _qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def _people(subject: register.RecordFacts, scope: str) -> list[register.RecordFacts]:
    return register.household_of(subject) if scope == Certificate.Scope.HOUSEHOLD else [subject]


def render(municipality, certificate_type: CertificateType, subject: register.RecordFacts, *, scope: str,
           options: dict, purpose: str, issue_number: str, issued_at, seal: register.SealFacts | None = None,
           people: list | None = None) -> bytes:
    """The unsigned PDF (always Japanese: the legal text); `people`: the records printed, when
    the caller read them already."""
    import weasyprint

    require_fonts(PDF_FONTS)
    people = people if people is not None else _people(subject, scope)
    head = next((p.name for p in people if p.is_household_head), "")
    url = verification_url(municipality, issue_number)
    with translation.override("ja"):
        html = render_to_string("certificates/pdf/certificate.html", {
            "municipality": municipality, "kind": certificate_type.kind, "title": certificate_type.get_kind_display(),
            "people": people, "subject": subject, "options": options, "head": head, "purpose": purpose,
            "issue_number": issue_number, "issued_at": issued_at, "url": url, "qr": _qr_data_uri(url),
            "digest": subject.digest()[:16], "registration": seal,
            "impression": ("data:image/png;base64," + base64.b64encode(seal.impression_png).decode()) if seal else "",
            **documents.issuer(municipality)})
    return weasyprint.HTML(string=html, base_url=None).write_pdf()


def issue(person, *, kind: str, scope: str = "person", options: dict | None = None, purpose: str = "") -> Certificate:
    """Issues a certificate of `person`'s own record (and household), signed by the
    municipality. Refused (CertificateRefused) for a type not offered, a person without a
    resident record here, a record that is not current, under 支援措置 or being corrected."""
    municipality = current_municipality()
    certificate_type = offered_type(kind)
    if scope not in Certificate.Scope.values:
        raise CertificateRefused("scope", _("本人のみか世帯全員かを選んでください。"))
    options = {name: bool((options or {}).get(name)) for name in OPTIONS}
    purpose = (purpose or "").strip()
    if len(purpose) > PURPOSE_MAX or any(ord(c) < 0x20 for c in purpose):
        raise CertificateRefused("purpose", _("使いみち・提出先は改行なしの100文字以内で入力してください。"))
    # Read, render and sign outside any transaction (rendering takes a fifth of a second; on
    # SQLite a write transaction would hold the whole database for it), then write the log in
    # a short transaction that reads the link and the record again, locked, and stores the
    # certificate only if they are exactly what was printed; otherwise render again.
    for _attempt in range(3):
        subject, seal = _subject(person, kind)
        scope_, options_ = (Certificate.Scope.PERSON, {name: False for name in OPTIONS}) if kind == Kind.SEAL \
            else (scope, options)
        printed = _people(subject, scope_)
        issue_number = new_issue_number()
        issued_at = timezone.now()
        pdf = render(municipality, certificate_type, subject, scope=scope_, options=options_, purpose=purpose,
                     issue_number=issue_number, issued_at=issued_at, seal=seal, people=printed)
        signed, _identity = documents.sign(municipality, pdf, reason=str(certificate_type.get_kind_display()))
        path = default_storage.save(f"certificates/{municipality.code}/{issue_number}.pdf", ContentFile(signed))
        with transaction.atomic():
            link = resident_link_of(person)
            now = register.facts_of(link.record_id, lock=True) if link is not None else None
            unchanged = (now is not None and now.id == subject.id and now.updated_at == subject.updated_at
                         and [p.digest() for p in _people(now, scope_)] == [p.digest() for p in printed]
                         and (kind != Kind.SEAL or register.seal_of(subject.id) == seal))
            if unchanged:
                certificate = Certificate.objects.create(
                    municipality=municipality, issue_number=issue_number, type=certificate_type, requester=person,
                    subject_record_id=subject.id, record_version=subject.updated_at, record_digest=subject.digest(),
                    scope=scope_, options=options_, purpose=purpose, fee_yen=certificate_type.fee_yen, file=path,
                    sha256=hashlib.sha256(signed).hexdigest(), size=len(signed))
                record("certificates.issued", actor=("resident", str(person.public_id)), obj=certificate,
                       data={"issue_number": issue_number, "kind": kind, "scope": scope_,
                             "record_version": subject.updated_at.isoformat(),
                             "record_digest": certificate.record_digest})
        if unchanged:
            return certificate
        default_storage.delete(path)  # the record changed while it was printed: print it again
    raise CertificateRefused("", _("住民記録が更新されている最中のため、証明書を作れませんでした。少し待ってからもう一度お試しください。"))


def _subject(person, kind: str) -> tuple[register.RecordFacts, register.SealFacts | None]:
    """The record (and, for 印鑑登録証明書, the seal registration) a certificate of `person`
    prints, or CertificateRefused saying why not and where to go."""
    link = resident_link_of(person)
    if link is None:
        raise CertificateRefused("", _("この市区町村の住民記録とあなたのマイナンバーカードがまだ結び付いていません。"
                                       "窓口で交付を受けてください。"))
    subject = register.facts_of(link.record_id)
    if subject is None or subject.status != "resident":
        raise CertificateRefused("", _("住民登録がないため、オンラインでは交付できません。窓口でご相談ください。"))
    if subject.support_measure:
        # 支援措置: issuance is restricted and needs the counter's checks (住基法第12条第6項).
        raise CertificateRefused("", _("あなたの住民票はオンラインでは交付できません。本人確認書類をお持ちのうえ窓口へお越しください。"))
    if subject.under_correction:
        raise CertificateRefused("", _("住民票の記載を修正中のため、オンラインでは交付できません。修正が終わるまでお待ちいただくか、窓口へお越しください。"))
    seal = None
    if kind == Kind.SEAL:
        # 印鑑登録証明書: the person's own registration only, never a household.
        seal = register.seal_of(subject.id)
        if seal is None:
            raise CertificateRefused("kind", _("印鑑登録がないため、印鑑登録証明書は交付できません。登録は窓口で、登録する印鑑と本人確認書類をお持ちください。"))
    return subject, seal


def own(person, issue_number: str) -> Certificate | None:
    number = normalise_issue_number(issue_number)
    if number is None:
        return None
    return Certificate.objects.select_related("type").filter(issue_number=number, requester=person).first()


def issued_to(person, limit: int = 20) -> list[Certificate]:
    return list(Certificate.objects.select_related("type").filter(requester=person).order_by("-issued_at")[:limit])


def read(certificate: Certificate) -> bytes:
    with default_storage.open(certificate.file, "rb") as f:
        return f.read()


def verdict(issue_number: str) -> Verdict:
    number = normalise_issue_number(issue_number)
    if number is None:
        return Verdict(found=False)
    found = Certificate.objects.select_related("type").filter(issue_number=number).first()
    return Verdict(found=found is not None, certificate=found)


@dataclass(frozen=True)
class UploadCheck:
    same_bytes: bool
    signature: str  # pades verdict summary
    signature_ok: bool


def check_upload(certificate: Certificate, data: bytes) -> UploadCheck:
    """Compares an uploaded file with the certificate as issued (byte for byte) and checks
    its signature. Raises pades.PdfInputError for a file that is not a signed PDF."""
    same = hashlib.sha256(data).hexdigest() == certificate.sha256 and len(data) == certificate.size
    result = pades.verify_pdf(data, documents.trust_roots(current_municipality()))
    return UploadCheck(same_bytes=same, signature=result.summary, signature_ok=result.ok)


def revoke(certificate: Certificate, user, reason: str) -> Certificate:
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise CertificateRefused("reason", _("取り消す理由を200文字以内で入力してください。"))
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.revoked_at is not None:
            raise CertificateRefused("reason", _("この証明書はすでに取り消されています。"))
        certificate.revoked_at, certificate.revoked_by, certificate.revoke_reason = timezone.now(), user, reason
        certificate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        record("certificates.revoked", actor=user, obj=certificate,
               data={"issue_number": certificate.issue_number, "reason": reason})
    return certificate
