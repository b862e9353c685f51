"""A STAND-IN for the national authentication app's servers (デジタル認証アプリ): a local
HTTP server speaking the protocol a relying party sees (../shared/design/JPKI.md §6,
docs/card_paths.md) — OpenID Connect discovery, JWKS, authorization (code + PKCE S256,
state, nonce, acr_values, sign_transaction_id), token (`private_key_jwt` only; the
authorization-code and client-credentials grants), ES256 ID tokens, userinfo with the basic
four facts, sign transactions registered with a SHA-256 digest, and sign results as JWE.

What the phone app does — read the card by NFC, ask the PINs — happens on the stand-in's
approval page with a virtual card of the data directory (madoguchi/card/virtual.py): the
page is marked as a stand-in. It is not the Digital Agency's service, is refused under
MADOGUCHI_ENV=production, and madoguchi's relying-party code (madoguchi/natapp) knows only
its issuer URL. Where the real protocol's details are not public, a CHOICE comment says
what this stand-in does (docs/card_paths.md lists them).

Tests start it in a thread (`NatAppStandIn(...).start()`) and may set `faults` to make it
misbehave the ways a relying party must refuse; `madoguchi natapp-standin` serves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography import x509
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from madoguchi.card import apdu
from madoguchi.card.jpki import InvalidPinFormat, JpkiAP
from madoguchi.card.text import TextAP
from madoguchi.card.transport import Channel, VirtualTransport
from madoguchi.card.virtual import VirtualCard
from madoguchi.pki import profile
from madoguchi.pki.challenge import verify_challenge
from madoguchi.pki.commands import load_trust
from madoguchi.pki.crlindex import RevocationPolicy, RevocationStore, crl_dir
from madoguchi.pki.validation import Validator

from . import refuse_in_production

REALM_PATH = "/api/realms/main"  # the real issuer's path (https://auth-and-sign.go.jp/api/realms/main)
SCOPES = {"openid", "name", "address", "birthdate", "gender", "sign"}
FACT_SCOPES = ("name", "address", "birthdate", "gender")
CODE_SECONDS = 60
ACCESS_SECONDS = 300
ID_TOKEN_SECONDS = 600
TRANSACTION_SECONDS = 600
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# CHOICE: acr values this stand-in grants, strongest first (the real service documents
# `aal3`, `crl`, e.g. "aal3 crl"; the exact meanings are not public).
ACR_GRANTED = ("aal3", "aal2")
DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017, SHA-256
GENDERS = {"1": "male", "2": "female", "9": "other"}  # CHOICE: OIDC's gender words for 1/2/9


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Client:
    client_id: str
    redirect_uris: list[str]
    jwks: dict | None = None
    jwks_uri: str | None = None
    name: str = ""

    def keys(self) -> KeySet:
        if self.jwks_uri:
            with urllib.request.urlopen(self.jwks_uri, timeout=5) as answer:
                return KeySet.import_key_set(json.loads(answer.read()))
        return KeySet.import_key_set(self.jwks or {"keys": []})


@dataclass
class Grant:
    """What the resident approved: held by a code, then by its access token."""

    client_id: str
    redirect_uri: str
    scope: set[str]
    nonce: str
    code_challenge: str
    sub: str
    facts: dict
    acr: str
    amr: list[str]
    auth_time: int
    transaction: str | None = None
    expires_at: float = 0.0
    used: bool = False
    tokens: list[str] = field(default_factory=list)


class NatAppStandIn:
    """The stand-in's state and its HTTP server (127.0.0.1, a free port unless told)."""

    def __init__(self, cards_dir: str | Path, data_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0):
        refuse_in_production("the national authentication app stand-in")
        self.cards_dir, self.data_dir = Path(cards_dir), Path(data_dir)
        self.clients: dict[str, Client] = {}
        self.signing_keys: list[ECKey] = [self._new_key()]
        self.pending: dict[str, dict] = {}  # approval page id → the authorization request
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, tuple[str, Grant | None, float, set[str]]] = {}  # token → (client, grant, exp, scope)
        self.transactions: dict[str, dict] = {}
        self.used_jti: dict[str, float] = {}
        self.pairwise_secret = secrets.token_bytes(32)
        self.faults: dict[str, object] = {}  # tests: how to misbehave (see _id_token, _sign, certs)
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                standin._dispatch(self, "GET")

            def do_POST(self):
                standin._dispatch(self, "POST")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self.issuer = self.base_url + REALM_PATH
        self.thread: threading.Thread | None = None

    # -- running ------------------------------------------------------------------------

    def start(self) -> NatAppStandIn:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def register_client(self, client_id: str, redirect_uris: list[str], *, jwks: dict | None = None,
                        jwks_uri: str | None = None, name: str = "") -> None:
        """What the Digital Agency's onboarding does: a client id, its redirect URIs, its public
        keys (a JWKS, or the URL of one)."""
        self.clients[client_id] = Client(client_id, list(redirect_uris), jwks, jwks_uri, name or client_id)

    @staticmethod
    def _new_key() -> ECKey:
        return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256", "kid": secrets.token_hex(8)},
                                  private=True)

    def rotate_key(self, *, keep_old: bool = True) -> str:
        """A new ID-token key signs from now on (the old one stays in the JWKS unless told)."""
        key = self._new_key()
        self.signing_keys = [key] + (self.signing_keys if keep_old else [])
        return key.kid

    def validator(self) -> Validator:
        # The real service checks the authentication certificate's validity (acr `crl`);
        # without a CRL the stand-in accepts (CHOICE).
        return Validator(load_trust(str(self.data_dir)), RevocationStore.open(crl_dir(self.data_dir)),
                         policy=RevocationPolicy(on_missing="accept"))

    # -- HTTP ---------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        path, query = url.path, dict(parse_qsl(url.query, keep_blank_values=True))
        body = b""
        if method == "POST":
            body = handler.rfile.read(min(int(handler.headers.get("Content-Length") or 0), 1 << 20))
        self.requests.append((method, path))
        routes = {
            ("GET", REALM_PATH + "/.well-known/openid-configuration"): self.discovery,
            ("GET", REALM_PATH + "/protocol/openid-connect/certs"): self.certs,
            ("GET", REALM_PATH + "/protocol/openid-connect/auth"): self.authorize,
            ("POST", REALM_PATH + "/protocol/openid-connect/auth"): self.approve,
            ("POST", REALM_PATH + "/protocol/openid-connect/token"): self.token,
            ("GET", REALM_PATH + "/protocol/openid-connect/userinfo"): self.userinfo,
            ("POST", "/api/sign-transactions"): self.start_transaction,
        }
        try:
            if (method, path) in routes:
                answer = routes[(method, path)](handler, query, body)
            elif method == "GET" and path.startswith("/api/sign-transactions/") and path.endswith("/result"):
                answer = self.result(handler, path.split("/")[3])
            else:
                answer = (404, {"error": "not_found"})
        except Exception as exc:  # a stand-in: say what broke
            answer = (500, {"error": "server_error", "error_description": f"{type(exc).__name__}: {exc}"})
        self._send(handler, *answer)

    @staticmethod
    def _send(handler, status: int, body, headers: dict | None = None) -> None:
        headers = dict(headers or {})
        if isinstance(body, dict):
            data = json.dumps(body, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        else:
            data = body or b""
        headers.setdefault("Cache-Control", "no-store")
        headers["X-Stand-In"] = "national authentication app stand-in (not the Digital Agency's service)"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # -- discovery and keys -------------------------------------------------------------

    def discovery(self, handler, query, body):
        oidc = self.issuer + "/protocol/openid-connect"
        return 200, {
            "issuer": self.faults.get("discovery_issuer", self.issuer),
            "authorization_endpoint": oidc + "/auth", "token_endpoint": oidc + "/token",
            "userinfo_endpoint": oidc + "/userinfo", "jwks_uri": oidc + "/certs",
            "response_types_supported": ["code"], "grant_types_supported": [
                "authorization_code", "client_credentials", "refresh_token"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "code_challenge_methods_supported": ["S256"], "scopes_supported": sorted(SCOPES),
            "claims_supported": ["sub", "name", "address", "birthdate", "gender", "acr", "amr"],
            "acr_values_supported": ["aal3", "aal2", "crl"],
            "authorization_response_iss_parameter_supported": True,
            "x_stand_in": "this is a local stand-in, not the Digital Agency's service",
        }

    def certs(self, handler, query, body):
        if self.faults.get("jwks_down"):
            return 503, {"error": "temporarily_unavailable"}
        return 200, {"keys": [k.as_dict(private=False) for k in self.signing_keys]}

    # -- authorization ------------------------------------------------------------------

    def _error_redirect(self, redirect_uri: str, state: str, error: str, description: str):
        params = {"error": error, "error_description": description, "iss": self.issuer}
        if state:
            params["state"] = state
        return 302, b"", {"Location": redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)}

    def _check_request(self, q: dict):
        """(client, redirect_uri, error tuple or None) of an authorization request."""
        client = self.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") not in client.redirect_uris:
            return None, None, (400, self._page("エラー", "<p>client_id または redirect_uri が登録されていません。"
                                                        "</p><p lang=\"en\">Unknown client or redirect URI.</p>"))
        redirect_uri, state = q["redirect_uri"], q.get("state", "")

        def refuse(error, description):
            return client, redirect_uri, self._error_redirect(redirect_uri, state, error, description)

        if q.get("response_type") != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        scope = set(q.get("scope", "").split())
        if "openid" not in scope or not scope <= SCOPES:
            return refuse("invalid_scope", "scope must include openid and only " + " ".join(sorted(SCOPES)))
        if not state or not q.get("nonce"):
            return refuse("invalid_request", "state and nonce are required")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return refuse("invalid_request", "PKCE S256 is required")
        if "sign" in scope:
            tx = self.transactions.get(q.get("sign_transaction_id", ""))
            if tx is None or tx["client_id"] != client.client_id or tx["expires_at"] < time.time():
                return refuse("invalid_request", "unknown or expired sign_transaction_id")
            if tx.get("signed"):
                return refuse("invalid_request", "the sign transaction was already used")
        return client, redirect_uri, None

    def authorize(self, handler, query, body):
        client, redirect_uri, error = self._check_request(query)
        if error is not None:
            return error
        page_id = secrets.token_urlsafe(16)
        with self.lock:
            self.pending[page_id] = dict(query)
        return 200, self._approval_page(page_id, client, query, "")

    def approve(self, handler, query, body):
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        with self.lock:
            request = self.pending.get(form.get("request", ""))
        if request is None:
            return 400, self._page("エラー", "<p>この画面の有効期限が切れました。最初からやり直してください。</p>")
        client, redirect_uri, error = self._check_request(request)
        if error is not None:
            return error
        if form.get("decision") != "approve":
            with self.lock:
                self.pending.pop(form.get("request", ""), None)
            return self._error_redirect(redirect_uri, request["state"], "access_denied", "the user cancelled")
        scope = set(request["scope"].split())
        try:
            grant = self._read_card(form, request, scope)
        except _CardProblem as exc:
            return 200, self._approval_page(form["request"], client, request, str(exc))
        with self.lock:
            self.pending.pop(form["request"], None)
            code = secrets.token_urlsafe(32)
            grant.client_id, grant.redirect_uri = client.client_id, redirect_uri
            grant.expires_at = time.time() + CODE_SECONDS
            self.codes[code] = grant
        params = {"code": code, "state": request["state"], "iss": self.issuer}
        return 302, b"", {"Location": redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)}

    def _read_card(self, form: dict, request: dict, scope: set[str]) -> Grant:
        """What the phone app does with the card: verify the PIN(s), prove the authentication
        key, read the basic four facts, sign the transaction's digest."""
        name = form.get("card", "")
        directory = self.cards_dir / name
        if not name or "/" in name or name.startswith(".") or not (directory / "card.json").is_file():
            raise _CardProblem("カードを選んでください。")
        card = JpkiAP(Channel(VirtualTransport(VirtualCard(directory))))
        try:
            card.verify("auth", form.get("pin", ""))  # first: a phone's token reads its certificate after it
            auth_cert = card.certificate("auth")
            challenge = secrets.token_bytes(32)
            signature = card.sign_digest("auth", hashlib.sha256(challenge).digest())
            checked = verify_challenge(self.validator(), auth_cert, signature, message=challenge, purpose="auth")
            if not checked.ok:
                raise _CardProblem(f"利用者証明用電子証明書を確認できませんでした（{checked.verdict.value}）。")
            facts = {}
            if scope & set(FACT_SCOPES):
                text = TextAP(Channel(VirtualTransport(VirtualCard(directory))))
                basic = text.basic_facts(form.get("text_pin") or form.get("pin", ""))
                birth = basic.birth if isinstance(basic.birth, str) else basic.birth.isoformat()
                facts = {"name": basic.name, "address": basic.address, "birthdate": birth,
                         "gender": GENDERS.get(basic.sex, "other")}
                facts = {k: v for k, v in facts.items() if k in scope}
            transaction = None
            if "sign" in scope:
                transaction = request["sign_transaction_id"]
                self._sign(card, transaction, form.get("password", ""), auth_cert)
        except InvalidPinFormat:
            raise _CardProblem("暗証番号・パスワードの形式が違います。") from None
        except apdu.WrongPin as exc:
            raise _CardProblem(f"暗証番号またはパスワードが違います（残り{exc.tries_left}回）。") from None
        except apdu.PinBlocked:
            raise _CardProblem("暗証番号またはパスワードがロックされています。") from None
        except apdu.CardError as exc:
            raise _CardProblem(f"カードを読み取れませんでした（{exc}）。") from None
        cn = x509.load_der_x509_certificate(auth_cert).subject.rfc4514_string()
        kind = profile.token_type_of_der(auth_cert)
        # CHOICE: the pairwise subject is an HMAC of the client id and the authentication
        # certificate's subject (a renewed card gets a new subject); amr says card or phone.
        sub = b64(hmac.new(self.pairwise_secret, f"{request['client_id']}|{cn}".encode(), hashlib.sha256).digest())
        requested = request.get("acr_values", "").split()
        acr = next((a for a in requested if a in ACR_GRANTED), ACR_GRANTED[0])
        amr = ["sc", "pin"] if kind == profile.TOKEN_CARD else ["hwk", "pin"]
        return Grant(client_id="", redirect_uri="", scope=scope, nonce=request["nonce"],
                     code_challenge=request["code_challenge"], sub=sub, facts=facts, acr=acr, amr=amr,
                     auth_time=int(time.time()), transaction=transaction)

    def _sign(self, card: JpkiAP, transaction: str, password: str, auth_cert: bytes) -> None:
        """The card signs exactly the registered bytes (a bare SHA-256, or its DigestInfo)."""
        tx = self.transactions[transaction]
        data = bytes(tx["digest"])
        if self.faults.get("sign_wrong_digest"):
            other = hashlib.sha256(b"another document").digest()
            data = data[:-32] + other
        card.verify("sign", password)
        if self.faults.get("sign_with_auth_cert"):  # the authentication key signs: a certificate of the wrong purpose
            card.verify("auth", self.faults["sign_with_auth_cert"])
            signature, cert = card.sign_digest_info("auth", data), auth_cert
        else:
            cert = card.certificate_after_verify("sign", password)
            signature = card.sign_digest_info("sign", data)
        tx.update(signed=True, signature=signature, certificate=cert)

    # -- token ----------------------------------------------------------------------------

    def _client_from_assertion(self, form: dict) -> Client | None:
        """private_key_jwt (RFC 7523): iss = sub = client id, aud = the token endpoint, a short
        life, a jti never seen before, signed by a key the client registered."""
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return None
        assertion = form["client_assertion"]
        try:
            unverified = json.loads(unb64(assertion.split(".")[1]))
            client = self.clients.get(unverified.get("sub", ""))
            if client is None:
                return None
            token = jwt.decode(assertion, client.keys(), algorithms=["ES256", "RS256"])
            JWTClaimsRegistry(iss={"essential": True, "value": client.client_id},
                              sub={"essential": True, "value": client.client_id},
                              aud={"essential": True, "values": [self.issuer + "/protocol/openid-connect/token",
                                                                 self.issuer]},
                              exp={"essential": True}, jti={"essential": True}).validate(token.claims)
        except (JoseError, ValueError, KeyError, IndexError, OSError):
            return None
        now = time.time()
        if token.claims["exp"] > now + 600:
            return None
        with self.lock:
            self.used_jti = {k: v for k, v in self.used_jti.items() if v > now}
            key = f"{client.client_id}|{token.claims['jti']}"
            if key in self.used_jti:
                return None
            self.used_jti[key] = token.claims["exp"]
        return client

    def token(self, handler, query, body):
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client = self._client_from_assertion(form)
        if client is None:
            return 401, {"error": "invalid_client", "error_description": "private_key_jwt client authentication failed"}
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            if set(form.get("scope", "sign").split()) != {"sign"}:
                return 400, {"error": "invalid_scope", "error_description": "client credentials are for sign only"}
            token = secrets.token_urlsafe(32)
            with self.lock:
                self.tokens[token] = (client.client_id, None, time.time() + ACCESS_SECONDS, {"sign"})
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_SECONDS, "scope": "sign"}
        if grant_type != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant.client_id != client.client_id:
                return 400, {"error": "invalid_grant", "error_description": "unknown code"}
            if grant.used:  # a replayed code: refused, and the tokens it gave revoked
                for token in grant.tokens:
                    self.tokens.pop(token, None)
                return 400, {"error": "invalid_grant", "error_description": "the code was already used"}
            grant.used = True
            if grant.expires_at < time.time() or self.faults.get("code_expired"):
                return 400, {"error": "invalid_grant", "error_description": "the code has expired"}
            if form.get("redirect_uri") != grant.redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
            if create_s256_code_challenge(form.get("code_verifier", "")) != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            token = secrets.token_urlsafe(32)
            grant.tokens.append(token)
            self.tokens[token] = (client.client_id, grant, time.time() + ACCESS_SECONDS, grant.scope)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_SECONDS,
                     "scope": " ".join(sorted(grant.scope)), "id_token": self._id_token(grant, client)}

    def _id_token(self, grant: Grant, client: Client) -> str:
        now = int(time.time())
        f = self.faults
        claims = {"iss": f.get("id_token_iss", self.issuer), "sub": grant.sub,
                  "aud": f.get("id_token_aud", client.client_id), "azp": client.client_id,
                  "iat": now, "exp": now + (-60 if f.get("id_token_expired") else ID_TOKEN_SECONDS),
                  "auth_time": grant.auth_time, "nonce": f.get("id_token_nonce", grant.nonce),
                  "acr": grant.acr, "amr": grant.amr}
        if grant.transaction:
            claims["sign_transaction_id"] = grant.transaction
        if f.get("id_token_alg") == "RS256":  # a key the JWKS does publish, of another algorithm
            rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-" + secrets.token_hex(4), "use": "sig"},
                                      private=True)
            self.signing_keys.append(rsa)
            return jwt.encode({"alg": "RS256", "kid": rsa.kid, "typ": "JWT"}, claims, rsa, algorithms=["RS256"])
        if f.get("id_token_unknown_key"):  # signed by a key nobody published
            stranger = self._new_key()
            return jwt.encode({"alg": "ES256", "kid": stranger.kid, "typ": "JWT"}, claims, stranger)
        key = self.signing_keys[0]
        return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def _bearer(self, handler) -> tuple[str, Grant | None, set[str]] | None:
        value = handler.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return None
        with self.lock:
            entry = self.tokens.get(value[7:])
        if entry is None or entry[2] < time.time():
            return None
        return entry[0], entry[1], entry[3]

    def userinfo(self, handler, query, body):
        bearer = self._bearer(handler)
        if bearer is None or bearer[1] is None:
            return 401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        grant = bearer[1]
        sub = self.faults.get("userinfo_sub", grant.sub)
        return 200, {"sub": sub, **grant.facts}

    # -- sign transactions --------------------------------------------------------------

    def start_transaction(self, handler, query, body):
        """POST /api/sign-transactions with a client-credentials token. CHOICE (field names
        not public): {"digest": base64 of a SHA-256 digest (32 bytes) or of its DER DigestInfo
        (51 bytes, the form for signatures that standard verifiers accept)} → 201
        {"sign_transaction_id", "expires_at"}."""
        bearer = self._bearer(handler)
        if bearer is None or bearer[1] is not None or "sign" not in bearer[2]:
            return 401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        try:
            digest = base64.b64decode(json.loads(body)["digest"], validate=True)
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "invalid_request", "error_description": "digest: base64 of a SHA-256 digest"}
        if len(digest) not in (32, 51) or (len(digest) == 51 and not digest.startswith(DIGEST_INFO_PREFIX)):
            return 400, {"error": "invalid_request",
                         "error_description": "digest: 32 bytes (SHA-256) or its 51-byte DigestInfo"}
        tx = str(uuid.uuid4())
        with self.lock:
            self.transactions[tx] = {"client_id": bearer[0], "digest": digest,
                                     "expires_at": time.time() + TRANSACTION_SECONDS}
        return 201, {"sign_transaction_id": tx, "expires_at": int(time.time()) + TRANSACTION_SECONDS}

    def result(self, handler, transaction: str):
        """GET /api/sign-transactions/{id}/result with the resident's access token: the
        signature and certificate as a JWE (ECDH-ES+A256KW, A256GCM) to the client's `enc` key.
        CHOICE: {"sign_transaction_id", "result": JWE}; the JWE's payload is JSON
        {"sign_transaction_id", "digest", "signature", "certificate"} (base64)."""
        bearer = self._bearer(handler)
        if bearer is None or bearer[1] is None:
            return 401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        tx = self.transactions.get(transaction)
        if tx is None or tx["client_id"] != bearer[0]:
            return 404, {"error": "not_found"}
        if bearer[1].transaction != transaction:
            return 403, {"error": "access_denied", "error_description": "the token was not granted this transaction"}
        if not tx.get("signed"):
            return 409, {"error": "not_signed"}
        payload = {"sign_transaction_id": transaction, "digest": base64.b64encode(tx["digest"]).decode(),
                   "signature": base64.b64encode(tx["signature"]).decode(),
                   "certificate": base64.b64encode(tx["certificate"]).decode()}
        keys = [k for k in self.clients[bearer[0]].keys().keys if k.get("use") == "enc"]
        if not keys:
            return 500, {"error": "server_error", "error_description": "the client registered no `enc` key"}
        key = keys[0]
        token = jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": key.kid, "cty": "json"},
                                    json.dumps(payload).encode(), key)
        return 200, {"sign_transaction_id": transaction, "result": token}

    # -- pages ----------------------------------------------------------------------------

    def _page(self, title: str, content: str) -> str:
        return ("<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)} - デジタル認証アプリ（代役）</title>"
                "<style>body{font-family:sans-serif;margin:0;padding:1rem;max-width:36rem;color:#1a1a1a}"
                ".standin{background:#fff3cd;border:2px solid #8a6d00;padding:.5rem;margin-bottom:1rem}"
                "label{display:block;margin-top:.8rem;font-weight:bold}input,select{font-size:1rem;padding:.5rem;"
                "width:100%;box-sizing:border-box}button{font-size:1rem;padding:.7rem 1rem;margin-top:1rem;"
                "min-height:44px}.primary{background:#0031d8;color:#fff;border:0}.error{color:#b00020}"
                "code{word-break:break-all}</style>"
                "</head><body><main>"
                "<p class=\"standin\" role=\"note\"><strong>代役（スタンドイン）</strong>: デジタル認証アプリの動作を"
                "ローカルで再現する開発・デモ用のサーバーです。デジタル庁のサービスではありません。"
                "<span lang=\"en\">A local stand-in, not the Digital Agency's service.</span></p>"
                f"<h1>{html.escape(title)}</h1>{content}</main></body></html>")

    def _approval_page(self, page_id: str, client: Client, request: dict, problem: str) -> str:
        scope = set(request.get("scope", "").split())
        cards = sorted(p.name for p in self.cards_dir.iterdir() if (p / "card.json").is_file()) \
            if self.cards_dir.is_dir() else []
        asks = [label for key, label in (("name", "氏名"), ("address", "住所"), ("birthdate", "生年月日"),
                                         ("gender", "性別")) if key in scope]
        what = "電子署名" if "sign" in scope else ("本人確認（" + "・".join(asks) + "の提供）" if asks else "ログイン")
        options = "".join(f"<option value=\"{html.escape(c)}\">{html.escape(c)}</option>" for c in cards)
        fields = ("<label for=\"card\">読み取るカード（仮想カード）</label>"
                  f"<select id=\"card\" name=\"card\">{options}</select>"
                  "<label for=\"pin\">利用者証明用電子証明書の暗証番号（数字4桁）</label>"
                  "<input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" maxlength=\"4\" "
                  "autocomplete=\"off\">")
        if asks:
            fields += ("<label for=\"text_pin\">券面事項入力補助用の暗証番号（数字4桁）</label>"
                       "<input id=\"text_pin\" name=\"text_pin\" type=\"password\" inputmode=\"numeric\" "
                       "maxlength=\"4\" autocomplete=\"off\">")
        if "sign" in scope:
            tx = self.transactions.get(request.get("sign_transaction_id", ""), {})
            fields += (f"<p>署名する内容の SHA-256: <code>{html.escape(bytes(tx.get('digest', b''))[-32:].hex())}</code></p>"
                       "<label for=\"password\">署名用電子証明書のパスワード（英数字6〜16桁）</label>"
                       "<input id=\"password\" name=\"password\" type=\"password\" maxlength=\"16\" "
                       "autocomplete=\"off\">")
        error = f"<p class=\"error\" role=\"alert\">{html.escape(problem)}</p>" if problem else ""
        return self._page("マイナンバーカードの読み取り", (
            f"<p><strong>{html.escape(client.name)}</strong> が{html.escape(what)}を求めています。</p>{error}"
            f"<form method=\"post\"><input type=\"hidden\" name=\"request\" value=\"{html.escape(page_id)}\">"
            f"{fields}<button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\">"
            "読み取って同意する</button> <button type=\"submit\" name=\"decision\" value=\"deny\">やめる</button>"
            "</form>"))


class _CardProblem(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    """`madoguchi natapp-standin --port N [--cards DIR] [--client ID=REDIRECT_URI,JWKS_URI …]`."""
    import argparse
    import os

    from . import StandInRefused

    parser = argparse.ArgumentParser(prog="madoguchi natapp-standin",
                                     description="A local STAND-IN for the national authentication app's servers "
                                                 "(development and demo only; refused in production).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("MADOGUCHI_DATA_DIR", "var"))
    parser.add_argument("--cards", help="the virtual cards' directory (default DATA_DIR/cards)")
    parser.add_argument("--client", action="append", default=[], metavar="ID=REDIRECT_URI,JWKS_URI",
                        help="a relying party: its client id, redirect URI and the URL of its JWKS")
    args = parser.parse_args(argv)
    clients = []
    for spec in args.client:
        client_id, _, rest = spec.partition("=")
        redirect_uri, _, jwks_uri = rest.partition(",")
        if not client_id or not redirect_uri.startswith("http") or not jwks_uri.startswith("http"):
            parser.error(f"--client {spec!r}: ID=REDIRECT_URI,JWKS_URI")
        clients.append((client_id, redirect_uri, jwks_uri))
    try:
        standin = NatAppStandIn(args.cards or Path(args.data_dir) / "cards", args.data_dir, port=args.port)
    except StandInRefused as exc:
        print(exc, file=__import__("sys").stderr)
        return 2
    for client_id, redirect_uri, jwks_uri in clients:
        standin.register_client(client_id, [redirect_uri], jwks_uri=jwks_uri)
    print(f"national authentication app STAND-IN: issuer {standin.issuer}", flush=True)
    try:
        standin.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
