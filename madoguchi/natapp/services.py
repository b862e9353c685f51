"""The national-app card path: from the waiting page to the provider and back.

`start` registers (for `sign`) the document's digest as a sign transaction, keeps the
authorization request's state, nonce and PKCE verifier in the browser's session and sends
the browser to the provider. `finish` (the redirect back) checks the state and the
response's `iss`, exchanges the code, verifies the ID token, reads userinfo or the sign
result, verifies the signature with madoguchi's own PKI, and completes the ceremony through
ceremonies.callers — the same outcome a card client's answer gives. Any refusal fails the
ceremony with its error code; nothing is linked, nothing is signed.
"""

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

from authlib.common.security import generate_token
from django.conf import settings
from django.urls import reverse

from madoguchi.ceremonies import callers
from madoguchi.ceremonies.errors import (
    CeremonyError, cancelled, from_verdict, malformed, path_not_enabled, provider_refused, provider_unavailable,
)
from madoguchi.ceremonies.pki import validator
from madoguchi.identity.services import FourFacts, SubjectRef
from madoguchi.pki import cms as pki_cms
from madoguchi.pki import profile
from madoguchi.pki.errors import PKIError
from madoguchi.pki.validation import Verdict
from madoguchi.pki.verify import ceremony_attribute, verify_digest_signature

from . import keys, rp
from .models import Registration

PATH = "national-app"
SESSION = "natapp_pending"  # state → the authorization request this browser is in
PENDING_SECONDS = 600
SCOPES = {callers.LOGIN: "openid", callers.IDENTIFY: "openid name address birthdate gender",
          callers.SIGN: "openid sign"}
SEXES = {"male": "1", "female": "2", "other": "9", "1": "1", "2": "2", "9": "9"}


class NotConfigured(Exception):
    """The municipality has no registration or no client key."""


def config(request) -> rp.Config:
    registration = Registration.objects.first()
    signing = keys.signing_key()
    if registration is None or signing is None:
        raise NotConfigured("no registration with the national app, or no client key (madoguchi natapp …)")
    redirect_uri = request.build_absolute_uri(reverse("natapp:callback", args=[request.municipality.code]))
    return rp.Config(issuer=registration.issuer, client_id=registration.client_id, redirect_uri=redirect_uri,
                     signing_kid=signing[0], signing_key=signing[1], timeout=settings.NATAPP_TIMEOUT_SECONDS,
                     metadata_seconds=settings.NATAPP_METADATA_SECONDS)


def provider_origins(request) -> tuple[str, ...]:
    """Where 「スマートフォンで読み取る」 is redirected to: the issuer's origin and its
    authorization endpoint's (from the cached discovery document when it loads)."""
    from urllib.parse import urlsplit

    def origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    try:
        cfg = config(request)
    except NotConfigured:
        return ()
    origins = {origin(cfg.issuer)}
    try:
        origins.add(origin(rp.metadata(cfg)["authorization_endpoint"]))
    except rp.ProviderError:
        pass
    return tuple(sorted(origins))


def configured() -> bool:
    return Registration.objects.exists() and keys.signing_key() is not None


def _error(exc: rp.ProviderError) -> CeremonyError:
    return provider_unavailable(exc.detail) if exc.kind == "unavailable" else provider_refused(exc.detail)


def start(request, ceremony_id: str) -> str:
    """The provider's authorization URL for this browser's open ceremony; raises CeremonyError."""
    waiting = callers.waiting(request, ceremony_id)
    if not callers.path_enabled(request.municipality, PATH):
        raise path_not_enabled()
    if waiting.purpose not in SCOPES:
        raise malformed(f"the national app does not answer a {waiting.purpose} ceremony")
    try:
        cfg = config(request)
    except NotConfigured:
        raise path_not_enabled() from None
    acr = settings.NATAPP_ACR_VALUES.get(waiting.purpose, "")
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(48)
    transaction = None
    try:
        if waiting.purpose == callers.SIGN:
            transaction = rp.register_sign_transaction(cfg, bytes.fromhex(waiting.document_sha256))
        url = rp.authorization_url(cfg, scope=SCOPES[waiting.purpose], state=state, nonce=nonce,
                                   code_verifier=verifier, acr_values=acr, sign_transaction_id=transaction)
    except rp.ProviderError as exc:
        error = _error(exc)
        callers.fail(ceremony_id, error, PATH)
        raise error from None
    now = int(time.time())
    pending = {k: v for k, v in request.session.get(SESSION, {}).items() if v["at"] > now - PENDING_SECONDS}
    pending = dict(list(pending.items())[-4:])
    pending[state] = {"ceremony": ceremony_id, "nonce": nonce, "verifier": verifier, "acr": acr,
                      "transaction": transaction, "purpose": waiting.purpose, "at": now,
                      "document_sha256": waiting.document_sha256, "audience": waiting.audience,
                      "challenge": waiting.challenge.hex()}
    request.session[SESSION] = pending
    return url


@dataclass(frozen=True)
class Finished:
    ceremony_id: str
    error: CeremonyError | None = None


def finish(request) -> Finished:
    """The provider's redirect back (code or error, state, iss). Raises CeremonyError when
    the state names no pending request of this browser (nothing to fail); otherwise the
    ceremony is completed or failed and its id returned."""
    state = request.GET.get("state", "")
    pending = request.session.get(SESSION, {})
    entry = pending.pop(state, None) if isinstance(state, str) else None
    request.session[SESSION] = pending  # a state is used once
    if entry is None or entry["at"] < time.time() - PENDING_SECONDS:
        raise malformed("state: no authorization request of this browser is waiting for this answer")
    ceremony_id = entry["ceremony"]
    try:
        answer = _verified_answer(request, entry)
        callers.complete_verified(ceremony_id, answer)
    except rp.ProviderError as exc:
        error = _error(exc)
        callers.fail(ceremony_id, error, PATH)
        return Finished(ceremony_id, error)
    except CeremonyError as exc:
        callers.fail(ceremony_id, exc, PATH)
        return Finished(ceremony_id, exc)
    return Finished(ceremony_id)


def _verified_answer(request, entry: dict) -> callers.VerifiedAnswer:
    cfg = config(request)
    if request.GET.get("error"):
        raise cancelled() if request.GET["error"] == "access_denied" else \
            provider_refused(f"the provider answered {request.GET['error'][:60]}")
    # RFC 9207: the answer must come from the issuer the browser was sent to.
    if "iss" in request.GET and request.GET["iss"] != cfg.issuer:
        raise provider_refused("the authorization response names another issuer")
    code = request.GET.get("code", "")
    if not code or len(code) > 2000:
        raise malformed("code: missing")
    token = rp.exchange_code(cfg, code, entry["verifier"])
    claims = rp.verify_id_token(cfg, token["id_token"], nonce=entry["nonce"], acr_values=entry["acr"])
    amr = claims.get("amr") if isinstance(claims.get("amr"), list) else []
    kind = profile.TOKEN_CARD if "sc" in amr or not amr else profile.TOKEN_SMARTPHONE
    subject = SubjectRef(issuer=cfg.issuer, client_id=cfg.client_id, subject=str(claims["sub"]), token_type=kind)
    evidence = {"issuer": cfg.issuer, "acr": claims.get("acr"), "amr": amr, "auth_time": claims.get("auth_time")}
    purpose = entry["purpose"]
    if purpose == callers.LOGIN:
        return callers.VerifiedAnswer(path=PATH, token_type=kind, subject=subject, evidence=evidence)
    if purpose == callers.IDENTIFY:
        info = rp.userinfo(cfg, token["access_token"], subject.subject)
        return callers.VerifiedAnswer(path=PATH, token_type=kind, subject=subject, facts=_facts(info),
                                      evidence=evidence)
    transaction = entry["transaction"]
    if claims.get("sign_transaction_id", transaction) != transaction:
        raise provider_refused("the ID token names another sign transaction")
    result = rp.fetch_sign_result(cfg, token["access_token"], transaction, keys.decryption_keys())
    signed = _verify_signature(result, entry)
    return callers.VerifiedAnswer(path=PATH, token_type=profile.token_type_of_der(result.certificate),
                                  subject=subject, signature=signed, evidence={**evidence, "transaction": transaction})


def _facts(info: dict) -> FourFacts:
    missing = [k for k in ("name", "address", "birthdate", "gender") if not isinstance(info.get(k), str)]
    if missing:
        raise provider_refused("userinfo lacks " + ", ".join(missing))
    try:
        birth = dt.date.fromisoformat(info["birthdate"])
    except ValueError:
        raise provider_refused("userinfo: birthdate is not YYYY-MM-DD") from None
    if info["gender"] not in SEXES:
        raise provider_refused("userinfo: unknown gender")
    return FourFacts(name=info["name"], birth_date=birth, sex=SEXES[info["gender"]], address=info["address"])


def _verify_signature(result: rp.SignResult, entry: dict) -> callers.VerifiedSignature:
    """madoguchi's own verification of the provider's sign result: the signed bytes are the
    registered DigestInfo of the document, the signature verifies under the certificate, the
    certificate chains to a signature anchor (J-LIS's; the development CA here), is valid and
    not revoked (CRL). The stored artefact is a detached CMS around the signature."""
    digest = bytes.fromhex(entry["document_sha256"])
    if result.digest != rp.digest_info(digest):
        raise from_verdict(Verdict.BAD_SIGNATURE)
    try:
        record = verify_digest_signature(result.signature, result.certificate, digest, validator())
    except PKIError as exc:
        raise malformed(str(exc)) from None
    if not record.ok:
        raise from_verdict(record.verdict)
    binding = ceremony_attribute(entry["ceremony"], bytes.fromhex(entry["challenge"]), entry["audience"])
    wrapped = pki_cms.signed_data_over_digest(result.certificate, result.signature, [binding])
    record_dict = record.as_dict()
    record_dict["cms_sha256"] = hashlib.sha256(wrapped).hexdigest()
    return callers.VerifiedSignature(signature=wrapped, record=record_dict, signer_der=result.certificate)
