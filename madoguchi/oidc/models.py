"""Relying parties, codes, tokens, consents, signing keys, client-assertion ids and signing
transactions. Every row belongs to one municipality (each is its own issuer).

Secrets are stored hashed (client secrets, codes, access and refresh tokens: SHA-256 of a
high-entropy random value; a lookup by hash is as good as by value and a database dump
gives nothing away). Signing keys are private JWKs: keep the database as secret as
MADOGUCHI_SECRET_KEY.
"""

import hashlib
import hmac
import re
import time
import uuid
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned

FACT_SCOPES = ("name", "address", "birthdate", "gender")
ALL_SCOPES = ("openid", *FACT_SCOPES, "sign", "applications")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


class LegalBasis(models.TextChoices):
    """Why a relying party may receive JPKI-verified facts (公的個人認証法)."""

    MUNICIPAL_SERVICE = "municipal_service", _("市区町村自身のサービス")
    SIGNATURE_VERIFIER = "signature_verifier", _("署名検証者（主務大臣の認定）")
    PLATFORM_OPERATOR = "platform_operator", _("プラットフォーム事業者を通じた利用")
    USER_VERIFIER_ONLY = "user_verifier", _("利用者証明検証者（ログインのみ）")


# Which scopes each legal basis permits: the four facts and `sign` need a basis under
# which the relying party may receive what a signature certificate carries. `applications`
# (the resident's applications through the JSON API, docs/applications.md) is for the
# municipality's own service only, such as its phone app.
BASIS_SCOPES = {
    LegalBasis.MUNICIPAL_SERVICE: set(ALL_SCOPES),
    LegalBasis.SIGNATURE_VERIFIER: set(ALL_SCOPES) - {"applications"},
    LegalBasis.PLATFORM_OPERATOR: set(ALL_SCOPES) - {"applications"},
    LegalBasis.USER_VERIFIER_ONLY: {"openid"},
}

# A public client (a native app: RFC 8252, token_endpoint_auth_method `none`) cannot keep a
# secret, so it cannot authenticate itself. It is allowed only under the basis the
# `applications` scope needs — the municipality's own service, i.e. its phone app — and
# gets at most what that basis allows, minus `sign`: signing transactions are registered
# with a client-credentials token, which only an authenticated client may hold, and a
# document to sign must come from a party the municipality can hold to account.
PUBLIC_CLIENT_BASES = (LegalBasis.MUNICIPAL_SERVICE,)
PUBLIC_CLIENT_SCOPES = set(ALL_SCOPES) - {"sign"}

# RFC 8252 §7.1: a private-use URI scheme in reverse domain name form — at least two
# labels, lower case (the registered URI is compared as is, so one spelling only).
PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
LOOPBACK_HOSTS = ("127.0.0.1", "::1")


def loopback(parts) -> bool:
    """http on a loopback IP literal (RFC 8252 §7.3; `localhost` is not one: §8.3)."""
    try:
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.username is None and \
            parts.password is None and (parts.port is None or 0 < parts.port < 65536)
    except ValueError:  # a port that is not a number
        return False


def native_redirect_problem(uri: str) -> str | None:
    """Why `uri` may not be a native app's redirect URI (RFC 8252 §7), or None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "not a URI"
    if "#" in uri or any(c.isspace() or ord(c) < 0x21 or ord(c) == 0x7f for c in uri):
        return "no fragment, no spaces"
    if parts.scheme == "https":
        if not parts.hostname or parts.username is not None or parts.password is not None:
            return "a claimed https URI needs a host and no user information"
        return None
    if parts.scheme == "http":
        if loopback(parts) and parts.path.startswith("/"):
            return None
        return "http only on a loopback IP literal: http://127.0.0.1:{port}/path or http://[::1]:{port}/path " \
               "(not localhost)"
    if not PRIVATE_USE_SCHEME.fullmatch(uri.split(":", 1)[0]):
        return "a private-use URI scheme in reverse domain name form (jp.lg.example.app:/callback)"
    if not parts.path.startswith("/") and not parts.netloc:
        return "a private-use URI needs a path (jp.lg.example.app:/callback)"
    return None


class Client(TenantOwned, ClientMixin):
    class AuthMethod(models.TextChoices):
        SECRET_BASIC = "client_secret_basic", "client_secret_basic"
        PRIVATE_KEY_JWT = "private_key_jwt", "private_key_jwt"
        NONE = "none", _("none（ネイティブアプリ：公開クライアント、シークレットなし）")

    class Algorithm(models.TextChoices):
        RS256 = "RS256", "RS256"
        ES256 = "ES256", "ES256"

    client_id = models.CharField(max_length=64)
    name = models.CharField(_("名称"), max_length=200)
    redirect_uris = models.JSONField(default=list)
    post_logout_redirect_uris = models.JSONField(default=list, blank=True)
    scopes = models.CharField(max_length=200, default="openid")  # allowed scopes, space separated
    legal_basis = models.CharField(_("法的根拠"), max_length=32, choices=LegalBasis.choices)
    legal_basis_note = models.CharField(_("根拠の詳細"), max_length=500, blank=True)
    auth_method = models.CharField(max_length=32, choices=AuthMethod.choices)
    secret_sha256 = models.CharField(max_length=64, blank=True)
    jwks = models.JSONField(default=dict, blank=True)  # public keys for private_key_jwt
    id_token_alg = models.CharField(max_length=8, choices=Algorithm.choices, default=Algorithm.ES256)
    sector = models.CharField(max_length=200)  # pairwise subject sector (defaults to the client id)
    # Signatures for this relying party must come from the physical card, not a smartphone
    # certificate (a `sign` ceremony opened with require_card: `card_required`).
    require_card = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "client_id"], name="oidc_client_unique_id")]

    def __str__(self) -> str:
        return self.client_id

    # Authlib's ClientMixin
    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # redirect_uri is always required and matched exactly

    @property
    def is_public(self) -> bool:
        """A native app (RFC 8252): no secret, no keys; PKCE alone binds the code to it."""
        return self.auth_method == self.AuthMethod.NONE

    def scope_set(self) -> set[str]:
        allowed = set(self.scopes.split()) & BASIS_SCOPES.get(self.legal_basis, {"openid"})
        if self.is_public:  # checked at registration too; kept here against an edited row
            allowed &= PUBLIC_CLIENT_SCOPES if self.legal_basis in PUBLIC_CLIENT_BASES else {"openid"}
        return allowed

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = self.scope_set()
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return self.matches_redirect(redirect_uri, self.redirect_uris)

    def matches_redirect(self, uri, registered) -> bool:
        """Exact match; for a native app's loopback URI any port (RFC 8252 §7.3)."""
        if not isinstance(uri, str):
            return False
        if uri in registered:
            return True
        if not self.is_public or len(uri) > 500:
            return False
        try:
            asked = urlsplit(uri)
        except ValueError:
            return False
        if not loopback(asked) or "#" in uri:
            return False
        for candidate in registered:
            known = urlsplit(candidate)
            if loopback(known) and known.hostname == asked.hostname and known.path == asked.path \
                    and known.query == asked.query:
                return True
        return False

    def check_client_secret(self, client_secret):
        return bool(self.secret_sha256) and hmac.compare_digest(sha256_hex(client_secret), self.secret_sha256)

    def check_endpoint_auth_method(self, method, endpoint):
        if method == "client_assertion_jwt":
            method = "private_key_jwt"
        return self.active and method == self.auth_method

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        if grant_type == "client_credentials":  # never for a public client: it proves nothing
            return not self.is_public and "sign" in self.scope_set()
        return grant_type in ("authorization_code", "refresh_token")

    @property
    def id_token_signed_response_alg(self):
        return self.id_token_alg


class Consent(TenantOwned):
    """What a resident agreed to share with a relying party; remembered until revoked."""

    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scopes = models.CharField(max_length=200)
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person", "client"],
                                               name="oidc_consent_unique")]

    def covers(self, scope: str) -> bool:
        return self.revoked_at is None and set(scope.split()) <= set(self.scopes.split())


class SignTransaction(TenantOwned):
    """A relying party's document waiting for a resident's signature (scope `sign`)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("署名待ち")
        SIGNED = "signed", _("署名済み")
        FETCHED = "fetched", _("受け取り済み")

    public_id = models.UUIDField(default=uuid.uuid4)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    document = models.BinaryField(null=True, blank=True)  # None when only the digest was registered
    document_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The public id of the latest `sign` ceremony begun for it (ceremonies.callers; oidc holds
    # no reference into the ceremonies tables).
    ceremony_public_id = models.CharField(max_length=43, blank=True, default="")
    person = models.ForeignKey("identity.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    signature = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="oidc_signtx_unique")]


class AuthorizationCode(TenantOwned, AuthorizationCodeMixin):
    code_sha256 = models.CharField(max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scope = models.CharField(max_length=200)
    nonce = models.CharField(max_length=255, blank=True)
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=8)
    auth_time = models.BigIntegerField()
    acr = models.CharField(max_length=64)
    amr = models.JSONField(default=list)
    sign_transaction = models.ForeignKey(SignTransaction, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    used = models.BooleanField(default=False)

    LIFETIME = 60  # seconds

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "code_sha256"], name="oidc_code_unique")]
        indexes = [models.Index(fields=["municipality", "client", "nonce"], name="oidc_code_nonce")]  # replay check

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce or None

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return self.acr

    def get_amr(self):
        return self.amr

    def is_expired(self) -> bool:
        return (timezone.now() - self.created_at).total_seconds() > self.LIFETIME


class Token(TenantOwned, TokenMixin):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    access_sha256 = models.CharField(max_length=64)
    refresh_sha256 = models.CharField(max_length=64, blank=True)
    scope = models.CharField(max_length=200)
    issued_at = models.BigIntegerField()
    expires_in = models.IntegerField()
    refresh_expires_at = models.BigIntegerField(default=0)
    acr = models.CharField(max_length=64, blank=True)
    amr = models.JSONField(default=list, blank=True)
    auth_time = models.BigIntegerField(default=0)
    code = models.ForeignKey(AuthorizationCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sign_transaction = models.ForeignKey(SignTransaction, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+")
    revoked = models.BooleanField(default=False)
    refresh_used = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "access_sha256"], name="oidc_token_access_unique"),
        ]
        indexes = [models.Index(fields=["municipality", "refresh_sha256"], name="oidc_token_refresh"),
                   models.Index(fields=["municipality", "person", "client"], name="oidc_token_person")]

    def check_client(self, client):
        return client.pk == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return self.person

    def get_client(self):
        return self.client


class SigningKey(TenantOwned):
    """The issuer's ID-token keys. One active key per algorithm; a retired key stays in the
    JWKS until every token it signed has expired; a withdrawn one leaves it at once."""

    kid = models.CharField(max_length=64)
    alg = models.CharField(max_length=8, choices=Client.Algorithm.choices)
    private_jwk = models.JSONField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)  # compromised: out of the JWKS at once

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "kid"], name="oidc_key_unique_kid")]
        indexes = [models.Index(fields=["municipality", "alg", "retired_at"], name="oidc_key_alg")]


class UsedAssertion(TenantOwned):
    """The `jti` of every private_key_jwt client assertion, until it expires: a replay fails."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "client", "jti"], name="oidc_jti_unique")]
        indexes = [models.Index(fields=["municipality", "expires_at"], name="oidc_jti_expiry")]
