"""What the provider refuses, with clear OAuth errors, and what it never releases."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7523 import private_key_jwt_sign

from madoguchi.identity.models import ResidentLink
from madoguchi.oidc.models import Token

from .flow import follow, path_of

FACTS = "openid name address birthdate gender"


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.django_db
def test_two_relying_parties_get_different_subjects(make_rp, identified, browser, pki, taro_record):
    library = make_rp(name="図書館")
    university = make_rp(name="大学", redirect="https://univ.example.jp/cb")
    subs = []
    for rp in (library, university, library):
        callback, _, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
        subs.append(rp.finish(callback)["id_token"]["sub"])
    assert subs[0] != subs[1] and subs[0] == subs[2]
    assert len(subs[0]) == 43  # base64url of an HMAC-SHA256


@pytest.mark.django_db
def test_a_replayed_code_is_refused_and_revokes_its_tokens(make_rp, identified, browser, pki, taro_record):
    rp = make_rp(method="private_key_jwt")
    url = rp.authorization_url("openid")
    verifier, nonce = next(iter(rp.pending.values()))
    callback, _, _ = follow(browser, url, pki.taro)
    first = rp.finish(callback)
    rp.pending[query(callback)["state"]] = (verifier, nonce)
    with pytest.raises(OAuthError) as refused:
        rp.finish(callback)
    assert refused.value.error == "invalid_grant" and "already used" in refused.value.description
    answer = rp.http.get(rp.metadata["userinfo_endpoint"],
                         headers={"Authorization": f"Bearer {first['token']['access_token']}"})
    assert answer.status_code == 401 and "invalid_token" in answer.headers["WWW-Authenticate"]


@pytest.mark.django_db
def test_a_wrong_pkce_verifier_is_refused(make_rp, identified, browser, pki, taro_record):
    rp = make_rp()
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    state = query(callback)["state"]
    rp.pending[state] = (generate_token(48), rp.pending[state][1])
    with pytest.raises(OAuthError) as refused:
        rp.finish(callback)
    assert refused.value.error == "invalid_grant"
    assert "Code challenge failed" in refused.value.description


@pytest.mark.django_db
def test_a_reused_client_assertion_is_refused(make_rp, identified, browser, pki, taro_record, muni_a):
    rp = make_rp(method="private_key_jwt")
    token_endpoint = rp.metadata["token_endpoint"]
    assertion = private_key_jwt_sign(rp.session.client_secret, client_id=rp.client_id, token_endpoint=token_endpoint,
                                     alg="ES256", expires_at=int(time.time()) + 60)

    def exchange():
        callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
        verifier, _ = rp.pending.pop(query(callback)["state"])
        return rp.http.post(token_endpoint, data={
            "grant_type": "authorization_code", "code": query(callback)["code"], "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})

    assert exchange().status_code == 200
    again = exchange()
    assert again.status_code == 400 and again.json()["error"] == "invalid_client"
    assert "used before" in again.json()["error_description"]


@pytest.mark.django_db
def test_an_assertion_for_another_audience_or_too_long_lived_is_refused(make_rp, browser, pki, taro_record):
    rp = make_rp(method="private_key_jwt")
    for audience, lifetime in (("http://localhost/279994/oidc/token", 60), (rp.metadata["token_endpoint"], 3600),
                               (rp.metadata["token_endpoint"], 10 ** 12)):
        assertion = private_key_jwt_sign(rp.session.client_secret, client_id=rp.client_id, token_endpoint=audience,
                                         alg="ES256", expires_at=int(time.time()) + lifetime)
        answer = rp.http.post(rp.metadata["token_endpoint"], data={
            "grant_type": "authorization_code", "code": "x", "redirect_uri": rp.redirect_uri, "code_verifier": "y" * 43,
            "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_client", answer.text


@pytest.mark.django_db
def test_an_unregistered_redirect_uri_is_not_followed(make_rp, browser, pki, taro_record):
    rp = make_rp()
    url = rp.authorization_url("openid").replace("library.example.jp", "evil.example.com")
    answer = browser.get(path_of(url))
    assert answer.status_code == 400 and "Location" not in answer
    assert "not supported by client" in answer.content.decode()


@pytest.mark.django_db
def test_a_scope_beyond_the_legal_basis_is_refused(make_rp, browser, pki, taro_record):
    rp = make_rp(scopes=(), basis="user_verifier")
    answer = browser.get(path_of(rp.authorization_url("openid name")))
    assert answer.status_code == 302
    error = query(answer["Location"])
    assert error["error"] == "invalid_scope" and "legal basis" in error["error_description"]
    assert "name" in error["error_description"] and error["state"]


@pytest.mark.django_db
@pytest.mark.parametrize("drop,error", [("code_challenge", "PKCE is required"), ("nonce", "nonce"),
                                        ("state", "state")])
def test_pkce_nonce_and_state_are_required(make_rp, browser, pki, taro_record, drop, error):
    rp = make_rp()
    url = rp.authorization_url("openid")
    parts = urlsplit(url)
    kept = "&".join(p for p in parts.query.split("&") if not p.startswith(drop + "="))
    answer = browser.get(f"{parts.path}?{kept}")
    assert answer.status_code == 302
    assert query(answer["Location"])["error"] == "invalid_request"
    assert error in query(answer["Location"])["error_description"]


@pytest.mark.django_db
def test_plain_pkce_is_refused(make_rp, browser):
    rp = make_rp()
    url = rp.authorization_url("openid").replace("code_challenge_method=S256", "code_challenge_method=plain")
    answer = browser.get(path_of(url))
    assert query(answer["Location"])["error"] == "invalid_request"
    assert "S256" in query(answer["Location"])["error_description"]


@pytest.mark.django_db
def test_no_address_for_a_resident_under_support_measure(make_rp, browser, pki, taro_record):
    taro_record.support_measure = True
    taro_record.save()
    rp = make_rp()
    callback, consent, _ = follow(browser, rp.authorization_url(FACTS), pki.taro)
    assert ResidentLink.unscoped.filter(record=taro_record).exists()
    assert "本町" not in consent and "支援措置" in consent
    info = rp.finish(callback)["userinfo"]
    assert "address" not in info and info["name"] == "窓口　太郎"


@pytest.mark.django_db
def test_refresh_tokens_rotate_and_a_replay_revokes_the_family(make_rp, identified, browser, pki, taro_record):
    rp = make_rp(method="private_key_jwt")
    callback, _, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    first = rp.finish(callback)["token"]
    second = rp.session.refresh_token(rp.metadata["token_endpoint"], refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert rp.session.get(rp.metadata["userinfo_endpoint"]).json()["name"] == "窓口　太郎"
    with pytest.raises(OAuthError) as replay:
        rp.session.refresh_token(rp.metadata["token_endpoint"], refresh_token=first["refresh_token"])
    assert replay.value.error == "invalid_grant"
    assert not Token.unscoped.filter(revoked=False).exists()  # the family is revoked


@pytest.mark.django_db
def test_denied_consent_returns_access_denied(make_rp, identified, browser, pki, taro_record):
    rp = make_rp()
    callback, consent, _ = follow(browser, rp.authorization_url("openid name"), pki.taro, consent="deny")
    assert consent and query(callback)["error"] == "access_denied"


@pytest.mark.django_db
def test_prompt_none_without_a_session(make_rp, browser):
    rp = make_rp()
    answer = browser.get(path_of(rp.authorization_url("openid", prompt="none")))
    assert query(answer["Location"])["error"] == "login_required"


def test_the_application_never_imports_the_test_transport():
    # The in-process transport (tests/oidc/rp.py) short-circuits HTTP: no application module
    # may import it, or anything else from tests/.
    import ast
    from pathlib import Path

    import madoguchi

    offenders = []
    for source in Path(madoguchi.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{source}: {n}" for n in names if n == "tests" or n.startswith("tests.")]
    assert offenders == []
