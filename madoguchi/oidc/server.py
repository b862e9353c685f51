"""Authlib's Django OAuth 2.0 server with the OpenID Connect code grant, configured for
madoguchi: code + PKCE S256 only, exact redirect URIs, nonce and state required,
client_secret_basic and private_key_jwt (jti replay store), public native apps with
`none` (RFC 8252: no secret, PKCE binds the code), RS256/ES256 ID tokens, rotated refresh
tokens, client credentials for signing transactions (scope `sign`, confidential clients only).

One server object serves every municipality: each query runs in the tenant scope the
request's URL set, and the issuer and token endpoint are derived from it.
"""

import datetime as dt
import random
from contextvars import ContextVar
import time
from dataclasses import dataclass

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from joserfc.jwk import KeySet

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality

from . import claims, keys
from .models import AuthorizationCode, Client, SignTransaction, Token, UsedAssertion, sha256_hex

ACCESS_TOKEN_LIFETIME = 300
REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600
ASSERTION_MAX_LIFETIME = 300  # a client assertion may live at most this long


_issuer: ContextVar[str] = ContextVar("oidc_issuer", default="")
_clients: ContextVar[dict | None] = ContextVar("oidc_clients", default=None)  # per request: id → Client
_signing: ContextVar[tuple | None] = ContextVar("oidc_signing", default=None)  # per request: (alg, kid, key)


def current_issuer() -> str:
    return _issuer.get()


def issuer(municipality) -> str | None:
    return f"{settings.OIDC_ISSUER_BASE}/{municipality.code}" if settings.OIDC_ISSUER_BASE else None


def issuer_for(request) -> str:
    municipality = request.municipality
    return issuer(municipality) or request.build_absolute_uri(f"/{municipality.code}")


def plain(value, limit: int = 200) -> bool:
    """A string a database column may hold (PostgreSQL refuses NUL) and of sane length."""
    return isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value


@dataclass
class Subject:
    """The resource owner as Authlib sees it: a Person, for one relying party."""

    person: object
    client: Client
    pk: int = 0


# ---- client authentication ------------------------------------------------------------

class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self):
        super().__init__(validate_jti=True, leeway=30)

    def get_audiences(self):
        return [f"{current_issuer()}/oidc/token"]  # the token endpoint, exactly

    def resolve_client_public_key(self, client):
        if not client.jwks:
            raise InvalidClientError(description="The client has no registered keys.")
        return KeySet.import_key_set(client.jwks)

    def verify_claims(self, claims_):
        exp = claims_.get("exp")  # before the jti is stored until then
        if isinstance(exp, bool) or not isinstance(exp, int | float) or \
                exp - time.time() > ASSERTION_MAX_LIFETIME + self.leeway:
            raise InvalidClientError(description=f"The client assertion must carry an exp within "
                                                 f"{ASSERTION_MAX_LIFETIME}s.")
        super().verify_claims(claims_)

    def validate_jti(self, claims_, jti):
        if not plain(jti) or not plain(claims_["sub"], 64):
            return False
        client = server.query_client(claims_["sub"])
        if client is None:
            return False
        now = timezone.now()
        expires = dt.datetime.fromtimestamp(int(claims_["exp"]) + self.leeway, tz=dt.UTC)
        try:
            with transaction.atomic():
                UsedAssertion.objects.create(client=client, jti=jti, expires_at=max(expires, now))
        except IntegrityError:
            return False
        if random.random() < 0.01:  # forget expired ids now and then
            UsedAssertion.objects.filter(expires_at__lt=now).delete()
        return True


def authenticate_none(query_client, request):
    """A public client names itself (client_id in the body) and proves nothing else. A
    request that also carries credentials of any kind — an Authorization header, a
    client_secret, a client assertion — is not a public client's: refused, so a confidential
    client with a wrong secret never falls back to `none` and a public client never
    pretends to authenticate."""
    data = request.payload.data
    if request.headers.get("Authorization") or any(
            data.get(k) for k in ("client_secret", "client_assertion", "client_assertion_type")):
        return None
    client_id = request.payload.client_id
    if not plain(client_id, 64):
        return None
    client = query_client(client_id)
    return client if client is not None and client.is_public else None


# ---- grants --------------------------------------------------------------------------

def check_scope(client: Client | None, scope: str | None) -> None:
    requested = set((scope or "").split())
    unknown = requested - set(settings.OIDC_SCOPES)
    if unknown:
        raise InvalidScopeError(description=f"Unknown scope: {' '.join(sorted(unknown))}.")
    if client is not None:
        beyond = requested - client.scope_set()
        if beyond:
            raise InvalidScopeError(
                description=f"Scope beyond the relying party's registration or legal basis "
                            f"({client.legal_basis}): {' '.join(sorted(beyond))}.")


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]

    def validate_requested_scope(self):
        check_scope(self.request.client, self.request.payload.scope)

    def save_authorization_code(self, code, request):
        context = request._request.oidc_context  # set by the authorization view
        payload = request.payload
        AuthorizationCode.objects.create(
            code_sha256=sha256_hex(code), client=request.client, person=request.user.person,
            redirect_uri=payload.redirect_uri, scope=payload.scope, nonce=payload.data.get("nonce", ""),
            code_challenge=payload.data["code_challenge"], code_challenge_method="S256",
            auth_time=context["auth_time"], acr=context["acr"], amr=context["amr"],
            sign_transaction=context.get("sign_transaction"))

    def query_authorization_code(self, code, client):
        if not isinstance(code, str) or len(code) > 200:
            return None
        with transaction.atomic():
            found = (AuthorizationCode.objects.select_for_update().select_related("person")
                     .filter(code_sha256=sha256_hex(code), client=client).first())
            if found is None:
                return None
            found.client = client  # the one it was filtered by: no second read of the client row
            replayed = found.used
            if replayed:
                # A replayed code: refuse it and revoke what it gave (RFC 6749 §4.1.2).
                Token.objects.filter(code=found).update(revoked=True, refresh_used=True)
                record("oidc.code_replayed", actor=("client", client.client_id), obj=found)
            elif not found.is_expired():
                found.used = True
                found.save(update_fields=["used"])
        if replayed:
            raise InvalidGrantError(description="The authorization code was already used.")
        return None if found.is_expired() else found

    def delete_authorization_code(self, authorization_code):
        pass  # kept, marked used: a replay is recognised and revokes the tokens

    def authenticate_user(self, authorization_code):
        self.request._code_row = authorization_code
        return Subject(authorization_code.person, authorization_code.client)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def validate_requested_scope(self):
        check_scope(self.request.client, self.request.payload.scope)

    def authenticate_refresh_token(self, refresh_token):
        if not isinstance(refresh_token, str) or len(refresh_token) > 200:
            return None
        token = (Token.objects.select_related("person", "client")
                 .filter(refresh_sha256=sha256_hex(refresh_token)).first())
        if token is None or token.refresh_expires_at < time.time():
            return None
        if token.refresh_used or token.revoked:
            # A rotated refresh token came back: someone holds a copy. Revoke the family.
            Token.objects.filter(person=token.person, client=token.client).update(revoked=True, refresh_used=True)
            record("oidc.refresh_replayed", actor=("client", token.client.client_id), obj=token)
            # Said as plainly as for a replayed code (the family is revoked: sign in again).
            raise InvalidGrantError(description="The refresh token was already used.")
        return token

    def authenticate_user(self, refresh_token):
        self.request._refreshed = refresh_token
        return Subject(refresh_token.person, refresh_token.client)

    def revoke_old_credential(self, refresh_token):
        Token.objects.filter(pk=refresh_token.pk).update(refresh_used=True, revoked=True)


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]  # never `none`

    def validate_requested_scope(self):
        scope = self.request.payload.scope
        if scope != "sign":
            raise InvalidScopeError(description="Client credentials are for signing transactions: scope=sign.")
        check_scope(self.request.client, scope)


class OpenIDCodeExtension(OpenIDCode):
    def __init__(self):
        super().__init__(require_nonce=True)

    def exists_nonce(self, nonce, request):
        if not plain(nonce, 255):
            raise InvalidRequestError("The 'nonce' must be 1-255 characters without NUL.")
        return AuthorizationCode.objects.filter(client__client_id=request.payload.client_id, nonce=nonce).exists()

    def get_client_algorithm(self, client):
        return client.id_token_alg

    def resolve_client_private_key(self, client):
        # The key read with the header (one database read per ID token: a rotation between
        # the two calls must not pair one key's kid with another key).
        chosen = _signing.get()
        if chosen is None or chosen[0] != client.id_token_alg:
            chosen = (client.id_token_alg, *keys.active_key(current_municipality(), client.id_token_alg))
        return chosen[2]

    def get_encode_header(self, client):
        kid, key = keys.active_key(current_municipality(), client.id_token_alg)
        _signing.set((client.id_token_alg, kid, key))
        return {"alg": client.id_token_alg, "kid": kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {"iss": current_issuer(), "aud": [client.client_id], "iat": now,
                "exp": now + keys.ID_TOKEN_LIFETIME, "azp": client.client_id}

    def generate_user_info(self, user, scope):
        # The ID token says who and how (sub, acr, amr, auth_time); facts come from userinfo.
        return UserInfo(sub=claims.pairwise_sub(user.person, user.client))


class CodeChallengeS256(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        # Authlib asks PKCE of public clients only; madoguchi asks it of every client, S256 only.
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.code_challenge_method


# ---- the server ----------------------------------------------------------------------

class Server(AuthorizationServer):
    def __init__(self):
        super().__init__(Client, Token)
        self.private_key_jwt = PrivateKeyJWT()
        self.register_client_auth_method("private_key_jwt", self.private_key_jwt)
        self.register_client_auth_method("none", authenticate_none)  # replaces Authlib's
        self.register_grant(CodeGrant, [CodeChallengeS256(required=True), OpenIDCodeExtension()])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentials)

    def load_config(self, config):
        super().load_config({"refresh_token_generator": True})

    def prepare(self, request):
        """Per request (a context variable: threads serve several municipalities at once)."""
        _issuer.set(issuer_for(request))
        _clients.set({})
        _signing.set(None)

    def query_client(self, client_id):
        if not plain(client_id, 64) or current_municipality() is None:
            return None
        known = _clients.get()
        if known is not None and client_id in known:
            return known[client_id]
        client = Client.objects.filter(client_id=client_id, active=True).first()
        if known is not None:
            known[client_id] = client
        return client

    def validate_requested_scope(self, scope):
        check_scope(None, scope)

    def generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                       include_refresh_token=True):
        include = include_refresh_token and grant_type in ("authorization_code", "refresh_token")
        return super().generate_token(grant_type, client, user=user, scope=scope,
                                      expires_in=ACCESS_TOKEN_LIFETIME, include_refresh_token=include)

    def save_token(self, token, request):
        now = int(time.time())
        user = request.user
        code = getattr(request, "_code_row", None)
        previous = getattr(request, "_refreshed", None)
        source = code or previous
        sign_tx = None
        if code is not None:
            sign_tx = code.sign_transaction
        elif previous is not None:
            sign_tx = previous.sign_transaction
        row = Token.objects.create(
            client=request.client, person=user.person if user else None,
            access_sha256=sha256_hex(token["access_token"]),
            refresh_sha256=sha256_hex(token["refresh_token"]) if token.get("refresh_token") else "",
            scope=token.get("scope", ""), issued_at=now, expires_in=token["expires_in"],
            refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if token.get("refresh_token") else 0,
            acr=source.acr if source else "", amr=source.amr if source else [],
            auth_time=(source.auth_time if source else 0),
            code=code if code is not None else (previous.code if previous else None), sign_transaction=sign_tx)
        record("oidc.token_issued", actor=("client", request.client.client_id), obj=row,
               data={"grant": request.payload.grant_type, "scope": row.scope})
        return row


server = Server()
