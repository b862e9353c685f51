"""Our own run of the OpenID Foundation's Basic OP and Config OP checks that need no network
beyond this machine, against a real server process (tests/server.py) with Authlib's relying
party (tests/oidc/rp.py) and a headless resident with the demo's virtual card
(tests/oidc/live.py). Where madoguchi departs from a profile on purpose (nonce, state and
PKCE required), the test says so and pins the departure. Plus the provider's own rules that
only a real server shows: POST authorization requests, RFC 9207 `iss`, request objects
refused, hostile parameters, RFC 6750 challenges, the relying party's first hour."""

import base64
import hashlib
import re
import time

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.oidc.live import CODE, LIVE_ENV, Resident, query
from tests.oidc.rp import MixUp, RelyingParty
from tests.server import fresh_database_url, madoguchi, start

CALLBACK = "https://rp.example.jp/callback"
FACTS = "openid name address birthdate gender"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, drop = fresh_database_url("oidc_conf")
    srv = start(tmp_path_factory.mktemp("oidc-server"), url, **LIVE_ENV)
    yield srv
    srv.stop()
    drop()


def register(server, scope=FACTS, *extra, **env) -> tuple[str, dict]:
    """`madoguchi oidc client add` as an administrator runs it: (its output, id and secret)."""
    out = madoguchi({**server.env, **env}, "oidc", "client", "add", "--municipality", CODE, "--name", "会話テスト RP",
                    "--redirect-uri", CALLBACK, "--scope", scope, "--legal-basis", "municipal_service",
                    "--auth-method", "client_secret_basic", *extra)
    client_id = re.search(r"client_id: (\S+)", out).group(1)
    secret = re.search(r"client_secret \(shown once\): (\S+)", out).group(1)
    return out, {"client_id": client_id, "secret": secret}


def relying_party(server, creds) -> RelyingParty:
    return RelyingParty(f"{server.base_url}/{CODE}", creds["client_id"], CALLBACK, secret=creds["secret"])


@pytest.fixture(scope="module")
def rp(server):
    return relying_party(server, register(server)[1])


@pytest.fixture(scope="module")
def resident(server, rp):
    """Signed in (identify) and consented once to `rp`: later requests are silent."""
    person = Resident(server)
    callback = person.follow(rp.authorization_url(FACTS))
    assert len(person.ceremonies) == 1 and len(person.consent_pages) == 1
    person.first = rp.finish(callback)
    return person


def authorize(rp, resident, scope=FACTS, **extra):
    """An authorization URL → (the callback URL, its query)."""
    callback = resident.follow(rp.authorization_url(scope, **extra))
    assert isinstance(callback, str), (callback.status_code, callback.text[:300])
    return callback, query(callback)


def raw_url(rp, **params) -> str:
    """An authorization URL with exactly these parameters (a hand-written relying party)."""
    from urllib.parse import urlencode

    return f"{rp.metadata['authorization_endpoint']}?{urlencode(params)}"


def pkce() -> tuple[str, str]:
    verifier = generate_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def good_params(rp, **over) -> dict:
    _, challenge = pkce()
    params = {"client_id": rp.client_id, "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid",
              "state": generate_token(10), "nonce": generate_token(10), "code_challenge": challenge,
              "code_challenge_method": "S256"}
    params.update(over)
    return {k: v for k, v in params.items() if v is not None}


# ---- Config OP -----------------------------------------------------------------------------

def test_discovery_describes_the_provider(server, rp):
    issuer = f"{server.base_url}/{CODE}"
    meta = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    OpenIDProviderMetadata(meta).validate()  # Authlib's check of OpenID Connect Discovery 1.0 §3
    assert meta["issuer"] == issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                     "end_session_endpoint"):
        assert meta[endpoint].startswith(issuer + "/"), endpoint
    assert meta["response_types_supported"] == ["code"] and meta["response_modes_supported"] == ["query"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert set(meta["id_token_signing_alg_values_supported"]) == {"ES256", "RS256"}
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "openid" in meta["scopes_supported"]
    assert meta["request_parameter_supported"] is False and meta["request_uri_parameter_supported"] is False
    assert meta["claims_parameter_supported"] is False
    assert meta["authorization_response_iss_parameter_supported"] is True
    jwks = requests.get(meta["jwks_uri"])
    assert "max-age=60" in jwks.headers["Cache-Control"]
    for key in jwks.json()["keys"]:
        assert key["kid"] and key["use"] == "sig" and key["alg"] in ("ES256", "RS256")
        assert "d" not in key and "p" not in key  # public parts only


# ---- Basic OP ------------------------------------------------------------------------------

def test_code_flow_id_token_and_userinfo(server, rp, resident):
    result = resident.first
    id_token, issuer = result["id_token"], f"{server.base_url}/{CODE}"
    assert id_token["iss"] == issuer and id_token["aud"] == [rp.client_id] and id_token["azp"] == rp.client_id
    assert id_token["exp"] - id_token["iat"] == 600 and result["token"]["expires_in"] == 300
    assert {"auth_time", "nonce", "at_hash", "acr", "amr"} <= set(id_token)
    assert "name" not in id_token  # the facts come from userinfo
    info = result["userinfo"]
    assert info["sub"] == id_token["sub"]
    assert info["name"] == "窓口　太郎" and re.fullmatch(r"\d{4}-\d\d-\d\d", info["birthdate"])
    assert info["gender"] in ("male", "female") and info["address"]["formatted"]


def test_every_authorization_response_names_the_issuer(server, rp, resident):
    issuer = f"{server.base_url}/{CODE}"
    _, answer = authorize(rp, resident, "openid")
    assert answer["iss"] == issuer and answer["code"]
    # errors too: from Authlib (invalid_scope), from madoguchi (prompt=none without a session)
    _, answer = authorize(rp, resident, "openid profile")
    assert answer["error"] == "invalid_scope" and answer["iss"] == issuer and answer["state"]
    stranger = Resident(server)
    callback = stranger.follow(rp.authorization_url("openid", prompt="none"))
    assert query(callback)["error"] == "login_required" and query(callback)["iss"] == issuer
    # and the denial on the consent page
    other = relying_party(server, register(server, "openid")[1])
    callback = resident.follow(other.authorization_url("openid"), consent="deny")
    assert query(callback)["error"] == "access_denied" and query(callback)["iss"] == issuer


def test_a_relying_party_of_several_municipalities_refuses_a_mixed_up_response(server, rp, resident):
    """The check docs/oidc.md shows: the response's iss must be the issuer the request went to."""
    callback, answer = authorize(rp, resident, "openid")
    forged = callback.replace(f"iss={answer['iss'].replace(':', '%3A').replace('/', '%2F')}",
                              "iss=https%3A%2F%2Fother.example.jp%2F139999")
    assert forged != callback
    with pytest.raises(MixUp):
        rp.finish(forged)


def test_nonce_is_required_and_bound_to_the_id_token(server, rp, resident):
    # Departure from Basic OP (OP-nonce-NoReq-code): madoguchi requires nonce on the code flow.
    answer = query(resident.follow(raw_url(rp, **good_params(rp, nonce=None))))
    assert answer["error"] == "invalid_request" and "nonce" in answer["error_description"]
    assert answer["iss"] == f"{server.base_url}/{CODE}"
    # A nonce already used by this client is refused (a replayed authorization request).
    used = resident.first["id_token"]["nonce"]
    answer = query(resident.follow(raw_url(rp, **good_params(rp, nonce=used))))
    assert answer["error"] == "invalid_request"


def test_pkce_and_state_are_required(server, rp, resident):
    # Departures from Basic OP on purpose (RFC 9700 §2.1.1): PKCE S256 and state, always.
    answer = query(resident.follow(raw_url(rp, **good_params(rp, code_challenge=None, code_challenge_method=None))))
    assert answer["error"] == "invalid_request" and "PKCE" in answer["error_description"]
    answer = query(resident.follow(raw_url(rp, **good_params(rp, state=None))))
    assert answer["error"] == "invalid_request" and "state" in answer["error_description"]


def test_prompt_none_and_prompt_login(server, rp, resident):
    callback, answer = authorize(rp, resident, FACTS, prompt="none")
    assert answer["code"] and not resident.ceremonies and not resident.consent_pages
    before = rp.finish(callback)["id_token"]["auth_time"]
    time.sleep(1.1)
    callback, answer = authorize(rp, resident, FACTS, prompt="login")
    assert len(resident.ceremonies) == 1  # the card again
    assert rp.finish(callback)["id_token"]["auth_time"] > before


def test_max_age_and_auth_time(server, rp, resident):
    callback, _ = authorize(rp, resident, FACTS, max_age="3600")
    assert not resident.ceremonies
    claims = rp.finish(callback)["id_token"]
    assert time.time() - claims["auth_time"] < 3600
    time.sleep(1.1)
    callback, _ = authorize(rp, resident, FACTS, max_age="0")
    assert len(resident.ceremonies) == 1
    assert time.time() - rp.finish(callback)["id_token"]["auth_time"] < 60


def test_id_token_hint(server, rp, resident):
    hint = resident.first["token"]["id_token"]
    callback, answer = authorize(rp, resident, "openid", id_token_hint=hint)
    assert rp.finish(callback)["id_token"]["sub"] == resident.first["id_token"]["sub"]
    # another relying party's token, or a forged one: invalid_request
    other = relying_party(server, register(server, "openid")[1])
    _, answer = authorize(other, resident, "openid", id_token_hint=hint)
    assert answer["error"] == "invalid_request" and "id_token_hint" in answer["error_description"]
    head, body, sig = hint.split(".")
    _, answer = authorize(rp, resident, "openid", id_token_hint=f"{head}.{body}.{sig[::-1]}")
    assert answer["error"] == "invalid_request"


def test_a_code_is_used_once(server, rp, resident):
    callback, _ = authorize(rp, resident, "openid")
    first = rp.finish(callback)
    answer = requests.post(rp.metadata["token_endpoint"], auth=(rp.client_id, rp.session.client_secret), data={
        "grant_type": "authorization_code", "code": query(callback)["code"], "redirect_uri": CALLBACK,
        "code_verifier": "x" * 43})
    assert answer.status_code == 400 and answer.json() == {
        "error": "invalid_grant", "error_description": "The authorization code was already used."}
    # and what it gave is revoked
    info = requests.get(rp.metadata["userinfo_endpoint"],
                        headers={"Authorization": f"Bearer {first['token']['access_token']}"})
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def test_a_failed_pkce_check_uses_up_the_code(server, rp, resident):
    callback, answer = authorize(rp, resident, "openid")
    data = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": CALLBACK}
    auth = (rp.client_id, rp.session.client_secret)
    wrong = requests.post(rp.metadata["token_endpoint"], auth=auth, data={**data, "code_verifier": "y" * 43})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = requests.post(rp.metadata["token_endpoint"], auth=auth,
                          data={**data, "code_verifier": rp.pending[answer["state"]][0]})
    assert right.status_code == 400 and right.json()["error_description"] == "The authorization code was already used."


def test_redirect_uri_must_match_exactly(server, rp, resident):
    for uri in (CALLBACK + "?x=1", CALLBACK + "/", "https://rp.example.jp/other", CALLBACK.upper()):
        response = resident.follow(raw_url(rp, **good_params(rp, redirect_uri=uri)))
        assert not isinstance(response, str), uri  # never redirected to
        assert response.status_code == 400 and "Location" not in response.headers
    # the token request must name the URI the authorization did
    _, answer = authorize(rp, resident, "openid")
    refused = requests.post(rp.metadata["token_endpoint"], auth=(rp.client_id, rp.session.client_secret), data={
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": CALLBACK + "?x=1",
        "code_verifier": rp.pending[answer["state"]][0]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_ui_locales_and_response_mode(server, rp, resident):
    other = relying_party(server, register(server, "openid")[1])
    callback = resident.follow(other.authorization_url("openid", ui_locales="en-US ja"), consent="deny")
    assert query(callback)["error"] == "access_denied"
    [page] = resident.consent_pages
    assert 'lang="en"' in page and "同意して続ける" not in page
    _, answer = authorize(rp, resident, "openid", response_mode="fragment")
    assert answer["error"] == "invalid_request" and "response_mode" in answer["error_description"]
    _, answer = authorize(rp, resident, "openid", response_mode="query")
    assert answer["code"]


def test_optional_parameters_are_accepted(server, rp, resident):
    callback, _ = authorize(rp, resident, "openid", display="page", ui_locales="ja", claims_locales="ja",
                            login_hint="someone", acr_values="urn:madoguchi:acr:login")
    assert rp.finish(callback)["id_token"]["sub"]


# ---- the provider's own rules, on a real server ------------------------------------------

HOSTILE = ['"', "\\", "é", "窓口", "\x7f", "a\"b", "%", "<script>", "\u2028", "x" * 3000, " ", "\t"]


@pytest.mark.parametrize("field", ["redirect_uri", "scope", "response_type", "state", "nonce", "prompt",
                                   "max_age", "code_challenge", "code_challenge_method", "client_id",
                                   "sign_transaction_id", "acr_values", "id_token_hint", "response_mode"])
def test_hostile_values_never_500(server, rp, resident, field):
    for value in HOSTILE:
        response = resident.http.get(rp.metadata["authorization_endpoint"],
                                     params=good_params(rp, **{field: value}), allow_redirects=False)
        assert response.status_code in (302, 400), (field, value, response.status_code)
        if response.status_code == 302:
            location = response.headers["Location"]
            if location.startswith(CALLBACK):
                assert query(location)["iss"] == f"{server.base_url}/{CODE}"
                assert "error" in query(location) or field in ("state", "nonce", "prompt", "acr_values") or \
                    "code" in query(location), (field, value, location)


def test_a_post_authorization_request(server, rp, resident):
    """OpenID Connect Core 3.1.2.1: form-encoded POST, from another site, without a CSRF token."""
    verifier, challenge = pkce()
    params = good_params(rp, code_challenge=challenge)
    posted = resident.http.post(rp.metadata["authorization_endpoint"], data=params,
                                headers={"Origin": "https://rp.example.jp", "Referer": "https://rp.example.jp/"},
                                allow_redirects=False)
    assert posted.status_code == 303
    callback = resident.follow(posted.headers["Location"] if posted.headers["Location"].startswith("http")
                               else server.base_url + posted.headers["Location"])
    answer = query(callback)
    assert answer["state"] == params["state"] and answer["code"]
    token = requests.post(rp.metadata["token_endpoint"], auth=(rp.client_id, rp.session.client_secret), data={
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    assert token.status_code == 200 and token.json()["id_token"]
    # The consent form that follows keeps its CSRF check: a forged decision is refused.
    forged = resident.http.post(rp.metadata["authorization_endpoint"] + "?" + "&".join(
        f"{k}={v}" for k, v in good_params(rp).items()), data={"decision": "allow"},
        headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert forged.status_code == 403


@pytest.mark.parametrize("parameter,error", [("request", "request_not_supported"),
                                             ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused(server, rp, resident, parameter, error):
    value = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9." if parameter == "request" else \
        "https://rp.example.jp/request.jwt"
    _, answer = authorize(rp, resident, "openid", **{parameter: value})
    assert answer["error"] == error and answer["iss"] == f"{server.base_url}/{CODE}" and "code" not in answer


def test_rfc6750_challenges_and_refresh_reuse(server, rp, resident):
    endpoint = rp.metadata["userinfo_endpoint"]
    bare = requests.get(endpoint)
    assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == "Bearer"  # no error code (§3.1)
    other_scheme = requests.get(endpoint, headers={"Authorization": "Basic YTpi"})
    assert other_scheme.status_code == 401 and other_scheme.headers["WWW-Authenticate"] == "Bearer"
    bad = requests.get(endpoint, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    callback, _ = authorize(rp, resident, "openid")
    first = rp.finish(callback)["token"]
    rp.session.refresh_token(rp.metadata["token_endpoint"], refresh_token=first["refresh_token"])
    reused = requests.post(rp.metadata["token_endpoint"], auth=(rp.client_id, rp.session.client_secret),
                           data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400 and reused.json() == {
        "error": "invalid_grant", "error_description": "The refresh token was already used."}


def test_a_signed_transaction_never_yields_a_silent_code(server, resident):
    _, creds = register(server, "openid sign")
    rp = relying_party(server, creds)
    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="sign")
    tx = rp.session.post(rp.metadata["sign_transaction_endpoint"],
                         json={"document_sha256": "ab" * 32, "title": "入会申込書"}).json()["id"]
    callback, answer = authorize(rp, resident, "openid sign", sign_transaction_id=tx)
    assert len(resident.consent_pages) == 1 and "入会申込書" in resident.consent_pages[0]
    result = rp.finish(callback)
    signed = rp.session.get(f"{rp.metadata['sign_transaction_endpoint']}/{tx}/result")
    assert signed.status_code == 200 and signed.json()["document_sha256"] == "ab" * 32
    # Again with the same transaction: refused as used, no consent page and no code.
    callback, answer = authorize(rp, resident, "openid sign", sign_transaction_id=tx)
    assert answer["error"] == "invalid_request" and "already used" in answer["error_description"]
    assert "code" not in answer and not resident.consent_pages
    assert result["id_token"]["sub"]


# ---- a relying party's first hour ------------------------------------------------------------

def test_client_add_prints_the_absolute_issuer(server):
    port = server.base_url.rsplit(":", 1)[1]
    out, _ = register(server, "openid", MADOGUCHI_PORT=port)
    assert f"issuer: {server.base_url}/{CODE}\n" in out
    assert f"discovery: {server.base_url}/{CODE}/.well-known/openid-configuration" in out
    meta = requests.get(re.search(r"discovery: (\S+)", out).group(1)).json()
    assert meta["issuer"] == f"{server.base_url}/{CODE}"
    out, _ = register(server, "openid", MADOGUCHI_OIDC_ISSUER_BASE="https://idp.example.jp/")
    assert f"issuer: https://idp.example.jp/{CODE}\n" in out
    assert f"discovery: https://idp.example.jp/{CODE}/.well-known/openid-configuration" in out


def test_demo_prints_links_on_the_port_serve_uses(server):
    out = madoguchi({**server.env, "MADOGUCHI_PORT": "8123"}, "demo")
    assert f"http://127.0.0.1:8123/{CODE}/" in out and ":8000" not in out
    out = madoguchi({**server.env, "MADOGUCHI_SITE_URL": "https://madoguchi.example.jp"}, "demo")
    assert f"https://madoguchi.example.jp/{CODE}/staff/login/" in out
