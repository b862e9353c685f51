"""The OpenID Connect relying party of the national authentication app: what madoguchi
says to the provider and how it checks the answers. No Django here: the caller gives the
configuration (issuer URL, client id, redirect URI, the current signing key).

Authlib's requests client does the OAuth (authorization URL with PKCE S256, the code and
client-credentials grants with `private_key_jwt`); joserfc verifies the ES256 ID token
against the provider's JWKS and decrypts the sign result (JWE). Discovery and the JWKS are
cached per issuer; an ID token naming a key the cached JWKS lacks (a rotation) refetches it
once. Every refusal is a ProviderError: `refused` (the answer cannot be trusted) or
`unavailable` (the provider could not be reached or answered with an error).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwe, jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

ID_TOKEN_ALG = "ES256"  # the provider's ID tokens; anything else is refused
ASSERTION_SECONDS = 60
LEEWAY_SECONDS = 30
MAX_BODY = 1 << 20


class ProviderError(Exception):
    def __init__(self, kind: str, detail: str):
        self.kind, self.detail = kind, detail  # kind: "refused" | "unavailable"
        super().__init__(f"{kind}: {detail}")


def refused(detail: str) -> ProviderError:
    return ProviderError("refused", detail)


def unavailable(detail: str) -> ProviderError:
    return ProviderError("unavailable", detail)


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    redirect_uri: str
    signing_kid: str
    signing_key: ECKey
    timeout: float = 10.0
    metadata_seconds: float = 3600.0


class _Assertion(PrivateKeyJWT):
    """private_key_jwt with the key's `kid` in the header (the provider holds several keys of
    a client during a rotation) and a one-minute life (Authlib's default is an hour)."""

    def __init__(self, token_endpoint: str, kid: str):
        super().__init__(token_endpoint, alg="ES256", headers={"kid": kid})
        self.kid = kid

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
                                    alg="ES256", header={"kid": self.kid},
                                    expires_at=int(time.time()) + ASSERTION_SECONDS)


_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict]] = {}
_jwks: dict[str, KeySet] = {}


def forget() -> None:
    """Drop the cached discovery documents and JWKS (tests; an operator's change of issuer)."""
    with _lock:
        _metadata.clear()
        _jwks.clear()


def _get_json(url: str, timeout: float, **kwargs) -> dict:
    try:
        answer = requests.get(url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise unavailable(f"{url}: {type(exc).__name__}") from None
    if 400 <= answer.status_code < 500:
        raise refused(f"{url} answered {answer.status_code}")
    if answer.status_code != 200:
        raise unavailable(f"{url} answered {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        raise unavailable(f"{url} did not answer JSON") from None
    if not isinstance(body, dict):
        raise unavailable(f"{url} did not answer a JSON object")
    return body


def metadata(config: Config) -> dict:
    """The provider's discovery document (cached); its `issuer` must be the configured one."""
    with _lock:
        cached = _metadata.get(config.issuer)
        if cached and time.monotonic() - cached[0] < config.metadata_seconds:
            return cached[1]
    meta = _get_json(config.issuer.rstrip("/") + "/.well-known/openid-configuration", config.timeout)
    if meta.get("issuer") != config.issuer:
        raise refused("the discovery document names another issuer")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if not isinstance(meta.get(name), str):
            raise refused(f"the discovery document has no {name}")
    if "S256" not in meta.get("code_challenge_methods_supported", ["S256"]):
        raise refused("the provider does not support PKCE S256")
    with _lock:
        _metadata[config.issuer] = (time.monotonic(), meta)
    return meta


def _keys(config: Config, meta: dict, refresh: bool = False) -> KeySet:
    uri = meta["jwks_uri"]
    with _lock:
        cached = _jwks.get(uri)
    if cached is not None and not refresh:
        return cached
    try:
        keys = KeySet.import_key_set(_get_json(uri, config.timeout))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise unavailable(f"the JWKS does not load: {exc}") from None
    with _lock:
        _jwks[uri] = keys
    return keys


def _session(config: Config, meta: dict, **kwargs) -> OAuth2Session:
    return OAuth2Session(config.client_id, config.signing_key, redirect_uri=config.redirect_uri,
                         code_challenge_method="S256",
                         token_endpoint_auth_method=_Assertion(meta["token_endpoint"], config.signing_kid), **kwargs)


def authorization_url(config: Config, *, scope: str, state: str, nonce: str, code_verifier: str,
                      acr_values: str = "", sign_transaction_id: str | None = None) -> str:
    meta = metadata(config)
    extra = {"acr_values": acr_values} if acr_values else {}
    if sign_transaction_id:
        extra["sign_transaction_id"] = sign_transaction_id
    url, _ = _session(config, meta, scope=scope).create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=code_verifier, **extra)
    return url


def _token(session: OAuth2Session, meta: dict, config: Config, **kwargs) -> dict:
    try:
        token = session.fetch_token(meta["token_endpoint"], timeout=config.timeout, **kwargs)
    except requests.RequestException as exc:
        raise unavailable(f"token endpoint: {type(exc).__name__}") from None
    except Exception as exc:  # Authlib's OAuthError for an error answer (invalid_grant …)
        error = getattr(exc, "error", None) or type(exc).__name__
        raise refused(f"token endpoint: {error}: {getattr(exc, 'description', '') or ''}".rstrip(": ")) from None
    if token.get("token_type", "").lower() != "bearer" or not token.get("access_token"):
        raise refused("token endpoint: no bearer access token")
    return dict(token)


def exchange_code(config: Config, code: str, code_verifier: str) -> dict:
    """The authorization code for tokens (private_key_jwt, PKCE). Returns the token response."""
    meta = metadata(config)
    token = _token(_session(config, meta), meta, config, grant_type="authorization_code", code=code,
                   code_verifier=code_verifier)
    if not isinstance(token.get("id_token"), str):
        raise refused("token endpoint: no ID token")
    return token


def verify_id_token(config: Config, id_token: str, *, nonce: str, acr_values: str = "") -> dict:
    """The ID token's claims once its ES256 signature verifies against the provider's JWKS
    and its iss, aud (and azp), exp, iat, nonce — and acr, when asked — are right."""
    meta = metadata(config)
    try:
        header = jws.extract_compact(id_token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise refused(f"the ID token does not parse: {exc}") from None
    if header.get("alg") != ID_TOKEN_ALG:
        raise refused(f"the ID token is signed with {header.get('alg')!r}, not {ID_TOKEN_ALG}")
    kid = header.get("kid")
    keys = _keys(config, meta)
    if kid is None or not any(k.kid == kid for k in keys.keys):
        keys = _keys(config, meta, refresh=True)  # a rotation: the JWKS once more
        if kid is None or not any(k.kid == kid for k in keys.keys):
            raise refused("the ID token is signed by a key the provider does not publish")
    try:
        token = jwt.decode(id_token, keys, algorithms=[ID_TOKEN_ALG])
        JWTClaimsRegistry(leeway=LEEWAY_SECONDS, iss={"essential": True, "value": config.issuer},
                          sub={"essential": True}, aud={"essential": True, "value": config.client_id},
                          exp={"essential": True}, iat={"essential": True},
                          nonce={"essential": True, "value": nonce}).validate(token.claims)
    except JoseError as exc:
        raise refused(f"the ID token is not valid: {type(exc).__name__}: {exc}") from None
    claims = token.claims
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != config.client_id:
        raise refused("the ID token has several audiences and another azp")
    if claims["iat"] > time.time() + LEEWAY_SECONDS:
        raise refused("the ID token was issued in the future")
    if acr_values and claims.get("acr") not in acr_values.split():
        raise refused(f"the ID token's acr {claims.get('acr')!r} is not one asked ({acr_values})")
    return claims


def userinfo(config: Config, access_token: str, subject: str) -> dict:
    """The userinfo claims; their `sub` must be the ID token's (OIDC Core 5.3.2)."""
    meta = metadata(config)
    claims = _get_json(meta["userinfo_endpoint"], config.timeout,
                       headers={"Authorization": f"Bearer {access_token}"})
    if claims.get("sub") != subject:
        raise refused("userinfo names another subject than the ID token")
    return claims


def sign_transactions_endpoint(meta: dict, issuer: str) -> str:
    """Where sign transactions are registered: the discovery document's
    `sign_transactions_endpoint` when it has one, else `/api/sign-transactions` on the
    issuer's host (the real service's layout, JPKI.md §6)."""
    if isinstance(meta.get("sign_transactions_endpoint"), str):
        return meta["sign_transactions_endpoint"]
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}/api/sign-transactions"


DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017, SHA-256


def digest_info(sha256: bytes) -> bytes:
    return DIGEST_INFO_PREFIX + sha256


def register_sign_transaction(config: Config, digest: bytes) -> str:
    """A client-credentials token (scope `sign`), then the document's SHA-256 registered as a
    sign transaction — in its DigestInfo form (RFC 8017), so the card's signature is a
    standard RSASSA-PKCS1-v1_5/SHA-256 one (the form the service offers for signatures
    submitted to J-LIS); returns the transaction's id."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    meta = metadata(config)
    token = _token(_session(config, meta, scope="sign"), meta, config, grant_type="client_credentials")
    try:
        answer = requests.post(sign_transactions_endpoint(meta, config.issuer), timeout=config.timeout,
                               json={"digest": base64.b64encode(digest_info(digest)).decode("ascii")},
                               headers={"Authorization": f"Bearer {token['access_token']}"})
    except requests.RequestException as exc:
        raise unavailable(f"sign transactions: {type(exc).__name__}") from None
    if answer.status_code not in (200, 201):
        raise unavailable(f"sign transactions answered {answer.status_code}")
    try:
        tx = answer.json()["sign_transaction_id"]
    except (ValueError, KeyError, TypeError):
        raise refused("sign transactions: no sign_transaction_id") from None
    if not isinstance(tx, str) or not 1 <= len(tx) <= 100:
        raise refused("sign transactions: a malformed sign_transaction_id")
    return tx


@dataclass(frozen=True)
class SignResult:
    transaction: str
    digest: bytes
    signature: bytes
    certificate: bytes


def fetch_sign_result(config: Config, access_token: str, transaction: str, decryption_keys: KeySet) -> SignResult:
    """The signature and certificate of a signed transaction, fetched with the resident's
    access token and decrypted (JWE, ECDH-ES+A256KW / A256GCM, with the municipality's `enc`
    key named by its kid). Nothing here says the signature is good: the caller verifies it."""
    meta = metadata(config)
    url = f"{sign_transactions_endpoint(meta, config.issuer)}/{transaction}/result"
    body = _get_json(url, config.timeout, headers={"Authorization": f"Bearer {access_token}"})
    token = body.get("result")
    if not isinstance(token, str) or len(token) > MAX_BODY:
        raise refused("the sign result carries no JWE")
    try:
        plain = jwe.decrypt_compact(token, decryption_keys, algorithms=["ECDH-ES+A256KW", "A256GCM"]).plaintext
        payload = json.loads(plain)
        result = SignResult(transaction=payload["sign_transaction_id"],
                            digest=base64.b64decode(payload["digest"], validate=True),
                            signature=base64.b64decode(payload["signature"], validate=True),
                            certificate=base64.b64decode(payload["certificate"], validate=True))
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise refused(f"the sign result does not decrypt or parse: {type(exc).__name__}") from None
    if result.transaction != transaction:
        raise refused("the sign result is of another transaction")
    return result
