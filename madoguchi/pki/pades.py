"""PAdES signatures on PDF documents (pyHanko): signing with a municipality's key and
independent verification against a trust anchor.

Level: **PAdES B-B** (ETSI EN 319 142-1 baseline, no signature timestamp): a CAdES
detached signature (SubFilter ETSI.CAdES.detached) with the signing certificate as a
signed attribute and the chain embedded. There is no time-stamping authority in the
embedded install; an operator with a TSA can move to B-T by giving pyHanko a
timestamper (docs/documents.md).

No Django here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .lgpki import SigningIdentity

FIELD_NAME = "MadoguchiSignature"
MAX_PDF_BYTES = 50 * 1024 * 1024


class PdfInputError(Exception):
    """The input is not a PDF we can read, or holds no signature (exit 2 on the command line)."""


def _outside_event_loop(function):
    """pyHanko's synchronous calls run their own asyncio loop: inside a running loop (an
    ASGI server, Playwright's sync API) they run in a thread of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def signer_for(identity: SigningIdentity):
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = asn1_keys.PrivateKeyInfo.load(identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return signers.SimpleSigner(
        signing_cert=_asn1_cert(identity.certificate), signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in identity.chain]),
        # The root is the verifier's trust anchor: it is not embedded.
        embed_roots=False)


def sign_pdf(pdf: bytes, identity: SigningIdentity, *, reason: str = "", location: str = "",
             name: str | None = None, signer=None) -> bytes:
    """The PDF with one PAdES B-B signature over the whole file. `signer` may be passed
    to reuse a prepared pyHanko signer (see signer_for)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
        reason=reason or None, location=location or None, name=name)
    pdf_signer = signers.PdfSigner(meta, signer=signer or signer_for(identity))
    out = _outside_event_loop(lambda: pdf_signer.sign_pdf(writer))
    return out.getvalue()


@dataclass
class PdfVerdict:
    signer: str  # the signer certificate's subject, RFC 4514
    signer_cn: str
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature verifies over them
    trusted: bool  # the signer's chain leads to a given trust anchor
    covers_whole_file: bool  # nothing was added after signing
    signed_at: str  # the signer's claimed time (a claim only, without a timestamp)
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PdfInputError("the trust anchor file is not PEM") from None
    if not certs:
        raise PdfInputError("no certificate in the trust anchor file")
    return certs


def verify_pdf(pdf: bytes, trust_roots: list[x509.Certificate]) -> PdfVerdict:
    """Verifies the PDF's one signature against `trust_roots` (no network fetching;
    revocation soft-fail: the development CA publishes no CRL). Raises PdfInputError
    when it is not a readable, signed PDF."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if len(pdf) > MAX_PDF_BYTES:
        raise PdfInputError(f"the file is larger than {MAX_PDF_BYTES} bytes")
    if not pdf.startswith(b"%PDF-"):
        raise PdfInputError("not a PDF file")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise PdfInputError(f"unreadable PDF ({exc.__class__.__name__})") from None
    if not signatures:
        raise PdfInputError("the PDF holds no signature")
    if len(signatures) > 1:
        raise PdfInputError("the PDF holds more than one signature")
    embedded = signatures[0]
    context = ValidationContext(trust_roots=[_asn1_cert(c) for c in trust_roots], allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        cert = embedded.signer_cert
        subject, cn = cert.subject.human_friendly, _cn(cert)
    except (ValueError, KeyError, TypeError, AttributeError):
        subject, cn = "", ""
    try:
        status = _outside_event_loop(lambda: validate_pdf_signature(embedded, context))
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
        return PdfVerdict(signer=subject, signer_cn=cn, intact=False, valid=False, trusted=False,
                          covers_whole_file=False, signed_at="", summary=f"invalid: {exc.__class__.__name__}")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signed_at = status.signer_reported_dt.isoformat() if status.signer_reported_dt else ""
    verdict = PdfVerdict(signer=subject, signer_cn=cn, intact=bool(status.intact), valid=bool(status.valid),
                         trusted=bool(status.trusted), covers_whole_file=whole, signed_at=signed_at, summary="")
    if verdict.ok:
        verdict.summary = "valid: intact, trusted, covers the whole file"
    else:
        reasons = [text for flag, text in ((verdict.intact, "modified after signing"),
                                           (verdict.valid, "signature does not verify"),
                                           (verdict.trusted, "signer not trusted"),
                                           (verdict.covers_whole_file, "content added after signing")) if not flag]
        verdict.summary = "invalid: " + ", ".join(reasons)
    return verdict


def _cn(cert: asn1_x509.Certificate) -> str:
    for rdn in cert.subject.chosen:
        for attribute in rdn:
            if attribute["type"].native == "common_name":
                return attribute["value"].native
    return ""
