"""The test relying party: Authlib's OpenID Connect client pieces (requests OAuth2Session with
PKCE and private_key_jwt, CodeIDToken claims) and joserfc for the JWKS — what an integrator
would write. In-process tests route its HTTP to Django's test client through a requests
adapter; the browser tests let it speak real HTTP to a server process."""

import time
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from requests.structures import CaseInsensitiveDict


class ShortPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with a one-minute assertion (madoguchi refuses over five;
    Authlib's default is an hour)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
                                    alg=self.alg, expires_at=int(time.time()) + 60)


class MixUp(Exception):
    """An authorization response from another issuer than the one asked (RFC 9207)."""


class DjangoTransport(requests.adapters.BaseAdapter):
    """requests → django.test.Client, so the RP's real HTTP code runs in-process."""

    def __init__(self, client):
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("content-length", "content-type", "host")}
        answer = self.client.generic(request.method, path, data=body,
                                     content_type=request.headers.get("Content-Type", ""), headers=headers)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url, response.request, response.encoding = request.url, request, "utf-8"
        return response

    def close(self):
        pass


class RelyingParty:
    def __init__(self, issuer: str, client_id: str, redirect_uri: str, *, secret: str | None = None,
                 private_key=None, assertion_alg: str = "ES256", id_token_alg: str = "ES256", django_client=None):
        self.issuer, self.client_id, self.redirect_uri = issuer, client_id, redirect_uri
        self.id_token_alg = id_token_alg
        self.http = requests.Session()
        if django_client is not None:
            self.http.mount("http://localhost", DjangoTransport(django_client))
        self.metadata = self.http.get(f"{issuer}/.well-known/openid-configuration").json()
        if private_key is not None:
            self.session = OAuth2Session(
                client_id, private_key, redirect_uri=redirect_uri, code_challenge_method="S256",
                token_endpoint_auth_method=ShortPrivateKeyJWT(self.metadata["token_endpoint"], alg=assertion_alg))
        else:
            self.session = OAuth2Session(client_id, secret, redirect_uri=redirect_uri, code_challenge_method="S256",
                                         token_endpoint_auth_method="client_secret_basic")
        if django_client is not None:
            self.session.mount("http://localhost", DjangoTransport(django_client))
        self.pending = {}

    def authorization_url(self, scope: str, **extra) -> str:
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, scope=scope, **extra)
        self.pending[state] = (verifier, nonce)
        return url

    def finish(self, callback_url: str) -> dict:
        """Exchanges the code, verifies the ID token against the JWKS, fetches userinfo."""
        query = dict(parse_qsl(urlsplit(callback_url).query))
        # RFC 9207: a relying party of several municipalities (issuers) takes the response
        # only from the issuer it sent the resident to — before it touches the code.
        if self.metadata.get("authorization_response_iss_parameter_supported") and query.get("iss") != self.issuer:
            raise MixUp(f"the response names {query.get('iss')!r}, the request went to {self.issuer!r}")
        verifier, nonce = self.pending.pop(query["state"])
        self.session.state = query["state"]
        token = self.session.fetch_token(self.metadata["token_endpoint"], authorization_response=callback_url,
                                         code_verifier=verifier)
        claims = self.verify_id_token(token["id_token"], nonce, token["access_token"])
        userinfo = self.session.get(self.metadata["userinfo_endpoint"])
        assert userinfo.status_code == 200, userinfo.text
        return {"token": token, "id_token": claims, "userinfo": userinfo.json()}

    def verify_id_token(self, id_token: str, nonce: str, access_token: str | None = None):
        keys = KeySet.import_key_set(self.http.get(self.metadata["jwks_uri"]).json())
        decoded = jwt.decode(id_token, keys, algorithms=[self.id_token_alg])
        claims = CodeIDToken(decoded.claims, decoded.header, options={
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "nonce": {"essential": True, "value": nonce},
        }, params={"nonce": nonce, "access_token": access_token, "client_id": self.client_id})
        claims.validate(leeway=30)
        return claims
