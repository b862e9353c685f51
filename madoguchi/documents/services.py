"""Signed documents: render a template to PDF (WeasyPrint), sign it as PAdES B-B with the
municipality's document-signing key (pki.pades), keep it in the storage, audit it.

The signing identity comes from the document signers (signers.py) named in
settings.DOCUMENT_SIGNERS: the operator's installed key and certificate for the
municipality (`madoguchi documents install-key`), or else — only where development keys
are allowed (dev, test) — an organisation certificate of the development LGPKI-shaped CA
in the data directory (pki.lgpki). Production refuses to sign with the development CA.
"""

import base64
import hashlib
import threading

from cryptography.hazmat.primitives import hashes

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from madoguchi.applications.statemachine import Status
from madoguchi.applications.services import reading
from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki import lgpki, pades
from madoguchi.procedures import forms
from madoguchi.registry import UnknownName

from . import fonts, signers
from .models import Document, DocumentProfile
from .seal import demo_seal

# Which transition issues which document.
ISSUED_ON = {Status.SUBMITTED: Document.Kind.RECEIPT, Status.APPROVED: Document.Kind.DECISION,
             Status.REJECTED: Document.Kind.DECISION}

# Prepared signers are kept per thread, not per process: pyHanko reads the certificate's
# asn1crypto objects, whose values are parsed lazily and not thread-safe (Name.native
# publishes an empty dict before filling it, so a second thread saw no common name and
# issuance failed with KeyError('organization_name') under concurrent load).
_signers = threading.local()


def forget_signers() -> None:
    """Drops every thread's prepared signers (a key installed, a test's new data directory)."""
    global _signers
    _signers = threading.local()


class DocumentError(Exception):
    pass


def profile(municipality) -> DocumentProfile:
    with tenant(municipality):
        found = DocumentProfile.objects.filter().first()
        return found or DocumentProfile(municipality=municipality, issuer_title=f"{municipality.name}長")


def identity(municipality) -> lgpki.SigningIdentity:
    try:
        return signers.signing_identity(settings.DATA_DIR, municipality.code, municipality.name,
                                        names=settings.DOCUMENT_SIGNERS,
                                        development_allowed=settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED)
    except (lgpki.LGPKIError, UnknownName) as exc:
        raise DocumentError(str(exc)) from None


def _signer(municipality):
    """A prepared pyHanko signer per municipality, certificate and thread (keys are loaded
    once per thread; see _signers)."""
    ident = identity(municipality)
    key = (municipality.code, ident.certificate.fingerprint(hashes.SHA256()))
    mine = getattr(_signers, "by_key", None)
    if mine is None:
        mine = _signers.by_key = {}
    if key not in mine:
        mine[key] = (ident, pades.signer_for(ident))
    return mine[key]


def _seal_uri(prof: DocumentProfile) -> str:
    if not prof.seal_png:
        return ""
    return "data:image/png;base64," + base64.b64encode(bytes(prof.seal_png)).decode()


def issuer(municipality) -> dict:
    """The issuer's title and seal (a data: URI, or "") for any document of the municipality
    (certificates print the same header as the application documents)."""
    prof = profile(municipality)
    return {"issuer": prof.issuer_title or municipality.name, "seal": _seal_uri(prof)}


def trust_roots(municipality) -> list:
    """The roots a document of the municipality verifies against: the development LGPKI's
    root where development keys are allowed, and the self-signed top of an installed chain."""
    roots = []
    if settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED:
        try:
            roots.append(lgpki.DevLGPKI.open(settings.DATA_DIR, create=False).root)
        except lgpki.LGPKIError:
            pass
    try:
        chain = identity(municipality).chain
    except DocumentError:
        chain = []
    roots += [c for c in chain if c.issuer == c.subject]
    return [r for r in roots if r is not None]


def receipt_number(application, payment: dict) -> str:
    """The 領収書's number: the application's 受付番号 and R (one 領収書 per application)."""
    return f"{application.receipt_number}-R"


def context(application, kind: str, payment: dict | None = None) -> dict:
    municipality = application.municipality
    prof = profile(municipality)
    definition = application.version.definition
    decided = None
    if kind == Document.Kind.DECISION:
        decided = (application.events.filter(to_status__in=[Status.APPROVED, Status.REJECTED])
                   .order_by("-at", "-id").first())
    return {
        "kind": kind, "a": application, "municipality": municipality, "title": forms.text(definition["title"]),
        "rows": forms.display(definition, application.data, reading.member_names(application)), "applicant": application.person.verified_name,
        "issuer": prof.issuer_title or municipality.name, "seal": _seal_uri(prof),
        "decided": decided, "approved": decided is not None and decided.to_status == Status.APPROVED,
        "issued_at": timezone.now(),
        "payment": _payment_context(application, payment) if kind == Document.Kind.PAYMENT_RECEIPT else None,
    }


def _payment_context(application, payment: dict | None) -> dict:
    import datetime as dt

    if not payment:
        raise DocumentError("a 領収書 needs its payment's facts")
    return {**payment, "paid_at": dt.datetime.fromisoformat(payment["paid_at"]),
            "amount": f"{int(payment['amount_yen']):,}", "number": receipt_number(application, payment)}


def render_pdf(application, kind: str, payment: dict | None = None) -> bytes:
    """The unsigned PDF of a document (always in Japanese: it is the legal text); refused
    (fonts.FontsMissing) when the Japanese fonts are missing rather than printed in tofu."""
    import weasyprint

    fonts.require(fonts.PDF_FONTS)

    with translation.override("ja"):
        html = render_to_string(f"documents/pdf/{kind}.html", context(application, kind, payment))
    return weasyprint.HTML(string=html, base_url=None).write_pdf()


def sign(municipality, pdf: bytes, *, reason: str) -> tuple[bytes, lgpki.SigningIdentity]:
    ident, signer = _signer(municipality)
    return pades.sign_pdf(pdf, ident, reason=reason, location=municipality.name, signer=signer), ident


def issue(application, kind: str, payment: dict | None = None) -> Document:
    """Renders, signs and stores one document of `application` (idempotent: the existing
    one is returned). `payment`: a 領収書's payment facts (the transition's)."""
    municipality = application.municipality
    with tenant(municipality):
        existing = Document.objects.filter(application=application, kind=kind).first()
        if existing is not None:
            return existing
        label = Document.Kind(kind).label
        with translation.override("ja"):
            reason = f"{label} {application.receipt_number}"
        signed, ident = sign(municipality, render_pdf(application, kind, payment), reason=reason)
        document = Document(municipality=municipality, application=application, kind=kind, data=payment or {},
                            sha256=hashlib.sha256(signed).hexdigest(), size=len(signed),
                            signer=ident.certificate.subject.rfc4514_string()[:200], signer_source=ident.source)
        if kind == Document.Kind.DECISION:
            document.decision = application.status if application.status in (Status.APPROVED, Status.REJECTED) else \
                (application.events.filter(to_status__in=[Status.APPROVED, Status.REJECTED])
                 .order_by("-at", "-id").values_list("to_status", flat=True).first() or "")
        name = default_storage.save(f"documents/{municipality.code}/{document.public_id}.pdf", ContentFile(signed))
        document.file = name
        try:
            with transaction.atomic():
                document.save()
                record("documents.issued", obj=document, data={
                    "application": str(application.public_id), "receipt": application.receipt_number,
                    "kind": kind, "sha256": document.sha256, "signer_source": ident.source})
        except IntegrityError:
            default_storage.delete(name)  # a concurrent run issued it first
            return Document.objects.get(application=application, kind=kind)
        except BaseException:
            default_storage.delete(name)
            raise
    return document


def after_transitions(transitions) -> None:
    """The transition listener of documents (applications/transitions.py), called inside the
    transition's transaction: the document a transition issues is generated in the
    background (the Tasks worker), its task committed together with the transition."""
    if not settings.DOCUMENTS_AUTOMATIC:
        return
    from .tasks import issue_document

    for transition in transitions:
        application = transition.application
        kind = ISSUED_ON.get(transition.target)
        if kind is not None:
            issue_document.enqueue(str(application.municipality.code), str(application.public_id), str(kind))
        if transition.payment:  # the fee paid (payments, through payment_received): its 領収書
            issue_document.enqueue(str(application.municipality.code), str(application.public_id),
                                   str(Document.Kind.PAYMENT_RECEIPT), transition.payment)


def read(document: Document) -> bytes:
    with default_storage.open(document.file) as fh:
        return fh.read()


def ensure_demo(municipality) -> lgpki.SigningIdentity:
    """The demo: the development LGPKI CA, the municipality's signing certificate and a
    generated seal image (idempotent)."""
    with tenant(municipality):
        prof = DocumentProfile.objects.filter().first()
        if prof is None:
            title = f"{municipality.name}長"
            DocumentProfile.objects.create(municipality=municipality, issuer_title=title, seal_png=demo_seal(title))
            record("documents.profile_created", data={"issuer_title": title, "seal": "generated"})
    return identity(municipality)
