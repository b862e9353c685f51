"""Consents, bearer tokens, relying-party registration and signing transactions."""

import base64
import datetime as dt
import hashlib
import secrets
import uuid

from authlib.integrations.django_oauth2 import ResourceProtector
from authlib.integrations.django_oauth2.resource_protector import return_error_response
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from madoguchi.audit.services import record
from madoguchi.ceremonies import callers as ceremonies

from .models import (
    ALL_SCOPES,
    BASIS_SCOPES,
    PUBLIC_CLIENT_BASES,
    PUBLIC_CLIENT_SCOPES,
    Client,
    Consent,
    LegalBasis,
    SignTransaction,
    Token,
    native_redirect_problem,
    sha256_hex,
)

MAX_DOCUMENT_BYTES = 1024 * 1024
TRANSACTION_TTL = dt.timedelta(minutes=30)


# ---- bearer tokens -------------------------------------------------------------------------

class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        if not isinstance(token_string, str) or len(token_string) > 200:
            return None
        return (Token.objects.select_related("person", "client")
                .filter(access_sha256=sha256_hex(token_string)).first())

    def validate_token(self, token, scopes, request):
        super().validate_token(token, scopes, request)
        if not token.client.active:
            from authlib.oauth2.rfc6750 import InvalidTokenError

            raise InvalidTokenError(description="The relying party is no longer registered.")


_protector = ResourceProtector()
_protector.register_token_validator(_Validator())


def bearer(request, scope: str):
    """(token, None), or (None, the OAuth error response: 401 with WWW-Authenticate, 403 …)."""
    try:
        return _protector.acquire_token(request, scopes=[scope]), None
    except (MissingAuthorizationError, UnsupportedTokenTypeError):
        # RFC 6750 §3.1: a request without a bearer token gets the challenge and no error code.
        response = JsonResponse({"error_description": "Send the access token: Authorization: Bearer <token>."},
                                status=401, headers={"Cache-Control": "no-store"})
        response["WWW-Authenticate"] = "Bearer"
        return None, response
    except OAuth2Error as error:
        return None, return_error_response(error)


# ---- consents ------------------------------------------------------------------------------

def remember_consent(person, client, scopes: set[str]) -> Consent:
    with transaction.atomic():
        consent = Consent.objects.select_for_update().filter(person=person, client=client).first()
        if consent is None:
            consent = Consent(person=person, client=client, scopes="")
        kept = set() if consent.revoked_at else set(consent.scopes.split())
        consent.scopes = " ".join(sorted(kept | scopes))
        consent.granted_at, consent.revoked_at = timezone.now(), None
        consent.save()
        record("oidc.consent_granted", actor=("resident", str(person.public_id)), obj=consent,
               data={"client": client.client_id, "scope": consent.scopes})
    return consent


def revoke_consent(person, consent_id) -> bool:
    with transaction.atomic():
        consent = Consent.objects.select_for_update().filter(pk=consent_id, person=person, revoked_at=None).first()
        if consent is None:
            return False
        consent.revoked_at = timezone.now()
        consent.save(update_fields=["revoked_at"])
        Token.objects.filter(person=person, client=consent.client_id).update(revoked=True, refresh_used=True)
        record("oidc.consent_revoked", actor=("resident", str(person.public_id)), obj=consent,
               data={"client": consent.client.client_id})
    return True


def consents_of(person):
    return Consent.objects.select_related("client").filter(person=person, revoked_at=None).order_by("-granted_at")


# ---- relying parties -----------------------------------------------------------------------

def register_client(*, name: str, redirect_uris: list[str], scopes: set[str], legal_basis: str,
                    legal_basis_note: str = "", auth_method: str, jwks: dict | None = None,
                    id_token_alg: str = "ES256", post_logout_redirect_uris: list[str] | None = None,
                    sector: str = "", actor=None) -> tuple[Client, str | None]:
    """Registers a relying party; returns it and its secret (client_secret_basic: shown once).

    auth_method `none` registers a native app, a public client (RFC 8252): redirect URIs
    are claimed https URIs, private-use schemes in reverse domain name form or loopback IP
    literals (any port at request time); see PUBLIC_CLIENT_BASES for what it may hold."""
    errors = []
    if not name or len(name) > 200:
        errors.append("name: 1-200 characters")
    if legal_basis not in LegalBasis.values:
        errors.append(f"legal basis: one of {', '.join(LegalBasis.values)}")
    scopes = set(scopes) | {"openid"}
    if scopes - set(ALL_SCOPES):
        errors.append(f"unknown scopes: {' '.join(sorted(scopes - set(ALL_SCOPES)))}")
    elif legal_basis in LegalBasis.values and scopes - BASIS_SCOPES[legal_basis]:
        errors.append(f"scopes beyond the legal basis {legal_basis}: "
                      f"{' '.join(sorted(scopes - BASIS_SCOPES[legal_basis]))}")
    public = auth_method == Client.AuthMethod.NONE
    for uri in [*redirect_uris, *(post_logout_redirect_uris or [])]:
        if not isinstance(uri, str) or not uri or len(uri) > 500 or "\x00" in uri:
            errors.append("redirect URI: 1-500 characters")
        elif public:
            problem = native_redirect_problem(uri)
            if problem:
                errors.append(f"redirect URI {uri!r} of a native app: {problem}")
        elif not (uri.startswith("https://") or uri.startswith("http://127.0.0.1") or uri.startswith(
                "http://localhost")) or "#" in uri:
            errors.append(f"redirect URI {uri!r}: https (or http on localhost), no fragment")
    if not redirect_uris:
        errors.append("at least one redirect URI")
    if auth_method not in Client.AuthMethod.values:
        errors.append(f"auth method: one of {', '.join(Client.AuthMethod.values)}")
    if public:
        # A native app cannot keep a secret (RFC 8252 §8.5): see PUBLIC_CLIENT_BASES.
        if legal_basis not in PUBLIC_CLIENT_BASES:
            errors.append(f"a native app (auth method none) only under the legal basis "
                          f"{', '.join(PUBLIC_CLIENT_BASES)}")
        elif scopes - PUBLIC_CLIENT_SCOPES:
            errors.append(f"scopes a native app (auth method none) may not hold: "
                          f"{' '.join(sorted(scopes - PUBLIC_CLIENT_SCOPES))}")
        if jwks:
            errors.append("a native app (auth method none) has no keys: leave the JWKS empty")
    if id_token_alg not in Client.Algorithm.values:
        errors.append("ID token algorithm: RS256 or ES256")
    if auth_method == Client.AuthMethod.PRIVATE_KEY_JWT:
        try:
            key_set = KeySet.import_key_set(jwks or {})
            if not key_set.keys or any(k.is_private for k in key_set.keys):
                raise ValueError
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            errors.append("private_key_jwt needs a JWKS of public keys")
    if errors:
        raise ValidationError(errors)
    secret = None
    client_id = "rp-" + secrets.token_urlsafe(12)
    if auth_method == Client.AuthMethod.SECRET_BASIC:
        secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        client = Client.objects.create(
            client_id=client_id, name=name, redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris or []),
            scopes=" ".join(s for s in ALL_SCOPES if s in scopes), legal_basis=legal_basis,
            legal_basis_note=legal_basis_note, auth_method=auth_method,
            secret_sha256=sha256_hex(secret) if secret else "",
            jwks=jwks if auth_method == Client.AuthMethod.PRIVATE_KEY_JWT else {},
            id_token_alg=id_token_alg, sector=sector or client_id)
        record("oidc.client_registered", actor=actor, obj=client,
               data={"client": client_id, "scope": client.scopes, "legal_basis": legal_basis,
                     "auth_method": auth_method})
    return client, secret


def rotate_secret(client: Client, actor=None) -> str:
    """A new client_secret (shown once); the old one stops working at once."""
    if client.auth_method != Client.AuthMethod.SECRET_BASIC:
        raise ValidationError(f"this relying party authenticates with {client.auth_method}: it has no secret")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        client.secret_sha256 = sha256_hex(secret)
        client.save(update_fields=["secret_sha256"])
        record("oidc.client_secret_rotated", actor=actor, obj=client, data={"client": client.client_id})
    return secret


def replace_jwks(client: Client, jwks, actor=None) -> None:
    """The relying party's new public keys (publish the new key beside the old to roll over)."""
    if client.auth_method != Client.AuthMethod.PRIVATE_KEY_JWT:
        raise ValidationError(f"this relying party authenticates with {client.auth_method}: it has no keys")
    try:
        key_set = KeySet.import_key_set(jwks or {})
        if not key_set.keys or any(k.is_private for k in key_set.keys):
            raise ValueError
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        raise ValidationError("private_key_jwt needs a JWKS of public keys") from None
    with transaction.atomic():
        client.jwks = jwks
        client.save(update_fields=["jwks"])
        record("oidc.client_keys_replaced", actor=actor, obj=client,
               data={"client": client.client_id, "kids": [k.kid for k in key_set.keys][:10]})


def deactivate_client(client: Client, actor=None) -> None:
    with transaction.atomic():
        client.active = False
        client.save(update_fields=["active"])
        Token.objects.filter(client=client).update(revoked=True, refresh_used=True)
        record("oidc.client_deactivated", actor=actor, obj=client, data={"client": client.client_id})


# ---- signing transactions --------------------------------------------------------------------

def create_transaction(client: Client, document: bytes | None, title: str,
                       document_sha256: str | None = None) -> SignTransaction:
    """A document to be signed, or — as the national app does — only its SHA-256 (the
    relying party keeps the document; the CMS is detached and verifies against it)."""
    with transaction.atomic():
        tx = SignTransaction.objects.create(
            client=client, title=title, document=document,
            document_sha256=hashlib.sha256(document).hexdigest() if document is not None else document_sha256,
            expires_at=timezone.now() + TRANSACTION_TTL)
        record("oidc.sign_transaction_registered", actor=("client", client.client_id), obj=tx,
               data={"sha256": tx.document_sha256})
    return tx


def transaction_for(client: Client, transaction_id, scopes: set[str], redirect_uri: str):
    if "sign" not in scopes:
        if transaction_id:
            raise InvalidRequestError("sign_transaction_id needs scope=openid sign.", redirect_uri=redirect_uri)
        return None
    try:
        public_id = uuid.UUID(str(transaction_id))
    except ValueError:
        raise InvalidRequestError("scope sign needs a registered sign_transaction_id.",
                                  redirect_uri=redirect_uri) from None
    tx = SignTransaction.objects.filter(client=client, public_id=public_id).first()
    if tx is None or (tx.status == SignTransaction.Status.PENDING and timezone.now() > tx.expires_at):
        raise InvalidRequestError("Unknown or expired sign_transaction_id.", redirect_uri=redirect_uri)
    if tx.status != SignTransaction.Status.PENDING:
        # One transaction, one signature, one code: a signed document never yields a new
        # code without the resident (register a new transaction to ask again).
        raise InvalidRequestError("The sign_transaction_id was already used: its document is signed.",
                                  redirect_uri=redirect_uri)
    return tx


def begin_signing(request, tx: SignTransaction, client: Client):
    """Opens the `sign` ceremony over the transaction's document; the browser comes back to
    the authorization request, which then adopts the signature (signed_in)."""
    if tx.document is not None:
        what = {"document": bytes(tx.document)}
    else:
        what = {"document_sha256": tx.document_sha256}
    opened = ceremonies.open("sign", municipality=request.municipality, requester=client.name, reason=tx.title,
                             require_card=client.require_card, **what)
    with transaction.atomic():
        tx.ceremony_public_id = opened.id
        tx.save(update_fields=["ceremony_public_id"])
        record("oidc.sign_started", actor=("client", client.client_id), obj=tx, data={"ceremony": opened.id})
    return ceremonies.wait_for(request, opened, next_url=request.get_full_path())


def signed_in(request, tx: SignTransaction):
    """The result of the transaction's `sign` ceremony that this browser began (its latest)
    and completed, handed to this authorization request once (ceremonies.callers
    take_in_session); None while there is none."""
    result = ceremonies.take_in_session(request, request.get_full_path())
    if result is None or result.id != tx.ceremony_public_id or not result.signature:
        return None
    return result


def adopt_signature(tx: SignTransaction, person, signed) -> str | None:
    """None when the transaction is signed by this person (adopting the CMS of `signed`, its
    ceremony's result); otherwise why not."""
    with transaction.atomic():
        tx = SignTransaction.objects.select_for_update().get(pk=tx.pk)
        if tx.status != SignTransaction.Status.PENDING:
            return None if tx.person_id == person.pk else "The transaction was signed by someone else."
        if signed is None or signed.id != tx.ceremony_public_id:
            return "The document was not signed."
        if signed.person_id != person.pk:
            record("oidc.sign_refused", obj=tx, data={"reason": "another card"})
            return "The document was signed with a card that is not the signed-in resident's."
        tx.signature, tx.person, tx.signed_at = signed.signature, person, timezone.now()
        tx.status = SignTransaction.Status.SIGNED
        tx.save()
        record("oidc.signed", actor=("resident", str(person.public_id)), obj=tx, data={"ceremony": signed.id})
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def transaction_result(token_row: Token, transaction_id: str) -> dict | None:
    """The CMS and signer certificate, for the resident's access token of that transaction."""
    tx = token_row.sign_transaction
    if tx is None or str(tx.public_id) != transaction_id or tx.status == SignTransaction.Status.PENDING \
            or token_row.person_id != tx.person_id:
        return None
    try:  # the record of the ceremony that verified this CMS (not verified again)
        signed = ceremonies.signed_record(bytes(tx.signature), document_sha256=tx.document_sha256,
                                          municipality=tx.municipality)
        verification = (signed.verification or {}).get("sign", {})
    except ceremonies.SignatureRefused:
        verification = {}  # no such ceremony any more
    chain = verification.get("chain") or []
    with transaction.atomic():
        if tx.status != SignTransaction.Status.FETCHED:
            SignTransaction.objects.filter(pk=tx.pk).update(status=SignTransaction.Status.FETCHED)
            record("oidc.signature_fetched", actor=("client", token_row.client.client_id), obj=tx)
    return {
        "id": str(tx.public_id), "document_sha256": tx.document_sha256, "cms": _b64(bytes(tx.signature)),
        "certificate": _b64(base64.b64decode(chain[0])) if chain else None,
        "signed_at": tx.signed_at.isoformat(), "verification": {
            k: verification.get(k) for k in ("verified_at", "verdict", "revocation", "content_sha256",
                                              "signer_sha256")},
    }
