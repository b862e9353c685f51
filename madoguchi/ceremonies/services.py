"""The ceremony service: open → fetch (card client) → complete (card client) → state and
finish (the browser that opened it). docs/ceremony.md specifies the protocol."""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from django.db import transaction
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.identity.services import (
    CertificateRef, FourFacts, SubjectRef, identify, identify_by_subject, is_refused, person_for_credential,
    person_for_subject, refuse_mixture,
)
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.pki import facts as pki_facts
from madoguchi.pki import pairing
from madoguchi.pki.profile import token_type_of_der
from madoguchi.pki.challenge import verify_challenge
from madoguchi.pki.errors import PKIError
from madoguchi.pki.validation import Verdict
from madoguchi.pki.verify import verify_detached
from madoguchi.protocol.ceremony import CHALLENGE_BYTES, to_be_signed

from . import errors
from .models import Ceremony, TokenType
from .pki import validator

TTL = dt.timedelta(minutes=5)
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024  # a certificate is ~2 KB, a CMS a few KB


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_ceremony(purpose: str, *, audience: str, requester: str, reason: str,
                  document: bytes | None = None, document_sha256: str | None = None,
                  require_card: bool = False) -> tuple[Ceremony, str]:
    """Opens a ceremony in the municipality in scope. Returns it and the opener's poll token
    (kept by the opener only: it watches the ceremony and takes its result).

    A `sign` ceremony signs `document`, or — when the caller keeps its document to itself —
    the document whose SHA-256 (hex) is `document_sha256`.
    """
    if purpose not in Ceremony.Purpose.values:
        raise errors.malformed(f"unknown purpose {purpose!r}")
    has_document = document is not None or document_sha256 is not None
    if (purpose == Ceremony.Purpose.SIGN) != has_document or (document is not None and document_sha256 is not None):
        raise errors.malformed("a `sign` ceremony signs one document (or its digest); other purposes none")
    if document is not None and len(document) > MAX_DOCUMENT_BYTES:
        raise errors.malformed("the document is too large")
    if document_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", document_sha256):
        raise errors.malformed("document_sha256 is 64 lower-case hex digits")
    now = timezone.now()
    poll_token = secrets.token_urlsafe(32)
    with transaction.atomic():
        ceremony = Ceremony.objects.create(
            public_id=secrets.token_urlsafe(32), purpose=purpose, challenge=secrets.token_bytes(CHALLENGE_BYTES),
            audience=audience, requester=requester, reason=reason, poll_token_sha256=_hash_token(poll_token),
            created_at=now, expires_at=now + TTL, document=document,
            document_sha256=hashlib.sha256(document).hexdigest() if document is not None else (document_sha256 or ""),
            require_card=require_card,
        )
        record("ceremony.opened", actor=("anonymous", ""), obj=ceremony, data={"purpose": purpose})
    return ceremony, poll_token


def find(public_id: str, *, for_update: bool = False) -> Ceremony:
    if not isinstance(public_id, str) or len(public_id) > 64:
        raise errors.not_found()
    ceremonies = Ceremony.objects.select_for_update() if for_update else Ceremony.objects
    try:
        ceremony = ceremonies.get(public_id=public_id)
    except Ceremony.DoesNotExist:
        raise errors.not_found() from None
    scope = current_municipality()
    if scope is not None and ceremony.municipality_id == scope.pk:
        ceremony.municipality = scope  # the request's, already read: no second query for it
    return ceremony


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(value, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_FIELD_BYTES * 4 // 3 + 4:
        raise errors.malformed(f"{name} is missing or too long")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise errors.malformed(f"{name} is not base64url") from None


def describe(ceremony: Ceremony) -> dict:
    """What the card client needs: who asks, why, and what to sign."""
    if timezone.now() > ceremony.expires_at:
        raise errors.expired()
    if ceremony.status != Ceremony.Status.OPEN:
        raise errors.already_used()
    out = {
        "id": ceremony.public_id,
        "municipality": {"code": ceremony.municipality.code, "name": ceremony.municipality.name},
        "purpose": ceremony.purpose,
        "audience": ceremony.audience,
        "requester": ceremony.requester,
        "reason": ceremony.reason,
        "challenge": b64(bytes(ceremony.challenge)),
        "expires_at": ceremony.expires_at.isoformat(),
    }
    if ceremony.require_card:
        out["require_card"] = True  # a smartphone certificate is refused (card_required)
    if ceremony.purpose == Ceremony.Purpose.LOGIN:  # identify's bytes name the card's certificates
        out["to_be_signed"] = b64(to_be_signed(ceremony.public_id, bytes(ceremony.challenge), ceremony.audience,
                                               ceremony.purpose))
    if ceremony.purpose == Ceremony.Purpose.SIGN:
        if ceremony.document is not None:
            out["document"] = {"sha256": ceremony.document_sha256, "size": len(bytes(ceremony.document)),
                               "content": b64(bytes(ceremony.document))}
        else:  # the caller registered only the digest of its document
            out["document"] = {"sha256": ceremony.document_sha256, "size": None}
    return out


def _facts(sign_der: bytes) -> FourFacts:
    parsed = pki_facts.from_certificate(x509.load_der_x509_certificate(sign_der))
    if parsed is None or parsed.birth is None or parsed.sex not in ("1", "2", "9"):
        raise errors.malformed("the signature certificate carries no readable basic four facts")
    return FourFacts(name=parsed.name, birth_date=parsed.birth, sex=parsed.sex, address=parsed.address,
                     name_alternative=parsed.name_substitute or "")


def _verify(ceremony: Ceremony, payload: dict) -> dict:
    """Checks a completion; returns what to store, or raises CeremonyError."""
    if not isinstance(payload, dict):
        raise errors.malformed("the body is not a JSON object")
    if payload.get("audience") != ceremony.audience:
        raise errors.wrong_audience()
    v = validator()
    challenge = bytes(ceremony.challenge)
    purpose = ceremony.purpose
    if purpose == Ceremony.Purpose.PRESENCE:
        auth_cert = unb64(payload.get("auth_certificate"), "auth_certificate")
        result = v.validate(auth_cert, "auth")
        if not result.ok:
            raise errors.from_verdict(result.verdict)
        return {"verification": {"auth": result.as_dict()}, "token_type": token_type_of_der(auth_cert)}

    if purpose == Ceremony.Purpose.SIGN:
        signature = unb64(payload.get("cms"), "cms")
        try:
            if ceremony.document is not None:
                verified = verify_detached(signature, bytes(ceremony.document), v)
            else:
                verified = verify_detached(signature, None, v, content_sha256=bytes.fromhex(ceremony.document_sha256))
        except PKIError as exc:
            raise errors.malformed(str(exc)) from None
        if not verified.ok:
            raise errors.from_verdict(verified.verdict)
        binding = verified.ceremony
        if binding is None or binding.ceremony_id != ceremony.public_id or binding.challenge != challenge \
                or binding.purpose != "sign":
            raise errors.wrong_ceremony()
        if binding.audience != ceremony.audience:
            raise errors.wrong_audience()
        _check_token_type(ceremony, token_type_of_der(verified.chain[0]))
        person = person_for_credential(CertificateRef.from_der(verified.chain[0])) if verified.chain else None
        return {"verification": {"sign": verified.as_dict()}, "signature": signature, "person": person,
                "token_type": token_type_of_der(verified.chain[0])}

    auth_cert = unb64(payload.get("auth_certificate"), "auth_certificate")
    if purpose == Ceremony.Purpose.LOGIN:
        tbs = to_be_signed(ceremony.public_id, challenge, ceremony.audience, purpose)
    else:
        sign_cert = unb64(payload.get("sign_certificate"), "sign_certificate")
        tbs = to_be_signed(ceremony.public_id, challenge, ceremony.audience, purpose, auth_certificate=auth_cert,
                           sign_certificate=sign_cert)
    auth = verify_challenge(v, auth_cert, unb64(payload.get("auth_signature"), "auth_signature"), message=tbs,
                            purpose="auth")
    if not auth.ok:
        raise errors.from_verdict(auth.verdict)
    verification = {"auth": auth.certificate.as_dict()}
    auth_ref = CertificateRef.from_der(auth_cert)
    kind = token_type_of_der(auth_cert)
    _check_token_type(ceremony, kind)
    if purpose == Ceremony.Purpose.LOGIN:
        person = person_for_credential(auth_ref)  # None for a listed certificate too
        if person is None:
            raise errors.card_refused() if is_refused(auth_ref) else errors.unknown_card()
        return {"verification": verification, "person": person, "token_type": kind}

    sign = verify_challenge(v, sign_cert, unb64(payload.get("sign_signature"), "sign_signature"), message=tbs,
                            purpose="sign")
    if not sign.ok:
        raise errors.from_verdict(sign.verdict)
    verification["sign"] = sign.certificate.as_dict()
    sign_ref = CertificateRef.from_der(sign_cert)
    if is_refused(auth_ref, sign_ref):
        raise errors.card_refused()
    facts = _facts(sign_cert)
    _check_one_card(auth, sign, auth_ref, sign_ref, facts)
    person = identify(ceremony.municipality, facts, auth_ref, sign_ref)
    return {"verification": verification, "person": person, "token_type": kind}


def _check_token_type(ceremony: Ceremony, kind: str) -> None:
    if ceremony.require_card and kind != TokenType.CARD:
        raise errors.card_required()


def _check_one_card(auth, sign, auth_ref: CertificateRef, sign_ref: CertificateRef, facts: FourFacts) -> None:
    """Refuses (and lists both certificates) when the two cannot be one card's: different CA
    generations, different last days, or issued apart (docs/ceremony.md, "One card")."""
    auth_x509 = x509.load_der_x509_certificate(auth_ref.der)
    sign_x509 = x509.load_der_x509_certificate(sign_ref.der)
    reason = pairing.mismatch(auth_x509, auth.certificate.anchor.cert, sign_x509, sign.certificate.anchor.cert)
    if reason == pairing.NOT_BEFORE and sign_x509.not_valid_before_utc > auth_x509.not_valid_before_utc:
        # A signature certificate re-issued after a change of name or address (the
        # authentication certificate survives it, JPKI.md §5): accepted only for an
        # authentication certificate already linked to a Person of the same birth date and sex.
        known = person_for_credential(auth_ref)
        if known is not None and known.verified_birth_date == facts.birth_date and known.verified_sex == facts.sex:
            reason = None
    if reason is not None:
        refuse_mixture(auth_ref, sign_ref, reason)
        raise errors.card_mismatch()


def complete(public_id: str, payload: dict, *, path: str = "card-client") -> Ceremony:
    """The card client's answer. A ceremony completes once; an answer that fails
    verification leaves it unusable, so a signature cannot be tried against it twice.
    `path`: the card path that carried the answer (cardpaths.CARD_PATHS)."""
    return _complete(public_id, path, lambda ceremony: _verify(ceremony, payload))


def _complete(public_id: str, path: str, verify) -> Ceremony:
    failure = None
    with transaction.atomic():
        ceremony = find(public_id, for_update=True)
        if ceremony.status != Ceremony.Status.OPEN:
            failure = errors.already_used()
        elif timezone.now() > ceremony.expires_at:
            failure = errors.expired()
            ceremony.status, ceremony.failure_code = Ceremony.Status.FAILED, failure.code
        elif not path_enabled(ceremony.municipality, path):
            failure = errors.path_not_enabled()
        else:
            ceremony.completions_tried += 1
            try:
                outcome = verify(ceremony)
            except errors.CeremonyError as exc:
                failure = exc
                if exc.consumes or ceremony.completions_tried >= 3:
                    ceremony.status, ceremony.failure_code = Ceremony.Status.FAILED, exc.code
            else:
                ceremony.status = Ceremony.Status.COMPLETED
                ceremony.completed_at = timezone.now()
                ceremony.verification = outcome["verification"]
                ceremony.person = outcome.get("person")
                ceremony.signature = outcome.get("signature")
                ceremony.card_path = path
                ceremony.token_type = outcome.get("token_type", "")
        ceremony.save(update_fields=["status", "failure_code", "completions_tried", "completed_at", "verification",
                                     "person", "signature", "card_path", "token_type"])
        if failure is None:
            record("ceremony.completed", actor=("resident", str(ceremony.person.public_id)) if ceremony.person
                   else ("anonymous", ""), obj=ceremony,
                   data={"purpose": ceremony.purpose, "card_path": path, "token_type": ceremony.token_type})
        else:
            record("ceremony.failed", actor=("anonymous", ""), obj=ceremony,
                   data={"purpose": ceremony.purpose, "code": failure.code, "card_path": path})
    if failure is not None:
        raise failure
    return ceremony


def _check_token(ceremony: Ceremony, poll_token: str | None) -> None:
    if not poll_token or not hmac.compare_digest(_hash_token(poll_token), ceremony.poll_token_sha256):
        raise errors.forbidden()


def state(public_id: str, poll_token: str | None) -> dict:
    ceremony = find(public_id)
    _check_token(ceremony, poll_token)
    status = ceremony.status
    if status == Ceremony.Status.OPEN and timezone.now() > ceremony.expires_at:
        status = "expired"
    out = {"status": status, "expires_at": ceremony.expires_at.isoformat()}
    if ceremony.failure_code:
        out["code"] = ceremony.failure_code
    return out


def take_result(public_id: str, poll_token: str | None) -> Ceremony:
    """The opener takes the result of a completed ceremony, once."""
    with transaction.atomic():
        ceremony = find(public_id, for_update=True)
        _check_token(ceremony, poll_token)
        if ceremony.status != Ceremony.Status.COMPLETED:
            raise errors.already_used() if ceremony.status == Ceremony.Status.CONSUMED else errors.forbidden()
        ceremony.status = Ceremony.Status.CONSUMED
        ceremony.save(update_fields=["status"])
    return ceremony


# -- card paths that verify elsewhere (the national authentication app) -------------------


def path_enabled(municipality, path: str) -> bool:
    from .cardpaths.base import enabled_paths

    return path in enabled_paths(municipality)


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature a card path obtained and madoguchi's PKI verified (pki.verify.verify_digest):
    the stored artefact (`signature`: bytes the caller hands back at submission), the
    verification record and the signer certificate."""

    signature: bytes
    record: dict
    signer_der: bytes


@dataclass(frozen=True)
class VerifiedAnswer:
    """What a card path that verified the resident itself hands the ceremony: which path,
    which token (card / smartphone), the provider's subject (login, identify), the basic four
    facts the provider released (identify), the verified signature (sign)."""

    path: str
    token_type: str
    subject: SubjectRef | None = None
    facts: FourFacts | None = None
    signature: VerifiedSignature | None = None
    evidence: dict = field(default_factory=dict)  # what the path checked (issuer, acr, amr…), stored


def complete_verified(public_id: str, answer: VerifiedAnswer) -> Ceremony:
    """Completes a ceremony with an answer its card path verified (the national app: ID
    token, userinfo, the sign result's signature and certificate). The outcome — a session's
    Person, an identified Person with its resident link, a verified signature — is the one a
    card client's answer gives."""
    return _complete(public_id, answer.path, lambda ceremony: _verified_outcome(ceremony, answer))


def _verified_outcome(ceremony: Ceremony, answer: VerifiedAnswer) -> dict:
    _check_token_type(ceremony, answer.token_type)
    purpose = ceremony.purpose
    verification = {"path": answer.path, **answer.evidence}
    if purpose == Ceremony.Purpose.LOGIN:
        person = person_for_subject(answer.subject) if answer.subject else None
        if person is None:
            raise errors.unknown_card()
        return {"verification": verification, "person": person, "token_type": answer.token_type}
    if purpose == Ceremony.Purpose.IDENTIFY:
        if answer.subject is None or answer.facts is None:
            raise errors.malformed("identify needs the subject and the basic four facts")
        person = identify_by_subject(ceremony.municipality, answer.facts, answer.subject)
        return {"verification": verification, "person": person, "token_type": answer.token_type}
    if purpose == Ceremony.Purpose.SIGN:
        signed = answer.signature
        if signed is None or signed.record.get("content_sha256") != ceremony.document_sha256:
            raise errors.from_verdict(Verdict.BAD_SIGNATURE)
        by_subject = person_for_subject(answer.subject) if answer.subject else None
        by_card = person_for_credential(CertificateRef.from_der(signed.signer_der))
        if by_subject is not None and by_card is not None and by_subject.pk != by_card.pk:
            raise errors.from_verdict(Verdict.BAD_SIGNATURE)
        verification["sign"] = signed.record
        return {"verification": verification, "signature": signed.signature, "person": by_card or by_subject,
                "token_type": answer.token_type}
    raise errors.malformed(f"the {answer.path} path does not answer a {purpose} ceremony")
