"""Bad input to every endpoint: a 4xx with a message, nothing stored, nothing broken."""

import pytest
from authlib.integrations.base_client.errors import OAuthError

from madoguchi.oidc.models import AuthorizationCode, SignTransaction, Token

JUNK = ["", "x" * 5000, "\x00", "ｘ", "%ZZ", "{}", "[]", "null"]


@pytest.mark.django_db
def test_the_token_endpoint(make_rp, browser, muni_a):
    rp = make_rp()
    url = f"/{muni_a.code}/oidc/token"
    cases = [{}, {"grant_type": "password", "username": "a", "password": "b"}, {"grant_type": "implicit"}]
    cases += [{"grant_type": "authorization_code", "code": j, "code_verifier": j, "redirect_uri": j} for j in JUNK]
    cases += [{"grant_type": "refresh_token", "refresh_token": j} for j in JUNK]
    cases += [{"grant_type": "authorization_code", "client_assertion": j,
               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"} for j in JUNK]
    for data in cases:
        for auth in ({}, {"HTTP_AUTHORIZATION": "Basic !!!"}, {"HTTP_AUTHORIZATION": "Basic " + "QQ==" * 3}):
            answer = browser.post(url, data, **auth)
            assert 400 <= answer.status_code < 500, (data, auth, answer.status_code)
            assert answer.json()["error"], answer.content
    assert browser.get(url).status_code == 405
    assert not Token.unscoped.exists()


@pytest.mark.django_db
def test_the_authorization_endpoint(make_rp, browser, muni_a):
    rp = make_rp()
    url = f"/{muni_a.code}/oidc/authorize"
    for params in [{}, {"client_id": "nope"}, {"client_id": rp.client_id}, {"response_type": "token"},
                   {"client_id": rp.client_id, "response_type": "code", "redirect_uri": "javascript:alert(1)"},
                   {"client_id": "x" * 5000, "response_type": "code"}, {"client_id": "\x00", "response_type": "code"},
                   {"client_id": ["a", "b"], "response_type": "code"}, {"client_id": "a\x00b"}]:
        answer = browser.get(url, params)
        assert answer.status_code == 400, (params, answer.status_code)
        assert "連携サービス" in answer.content.decode()
    # A known client with NUL bytes in what would reach the database: refused, not a 500.
    for field in ("nonce", "state", "sign_transaction_id", "max_age", "prompt", "acr_values"):
        url = rp.authorization_url("openid").replace(f"{field}=", f"{field}=%00") if f"{field}=" in \
            rp.authorization_url("openid") else rp.authorization_url("openid") + f"&{field}=%00"
        from .flow import path_of

        answer = browser.get(path_of(url))
        assert answer.status_code in (302, 400), (field, answer.status_code)
    assert not AuthorizationCode.unscoped.exists()


@pytest.mark.django_db
def test_userinfo_and_the_signing_api(make_rp, browser, muni_a):
    rp = make_rp(scopes=("sign",))
    for path in ("oidc/userinfo", "oidc/sign-transactions",
                 "oidc/sign-transactions/00000000-0000-0000-0000-000000000000/result"):
        for header in ({}, {"HTTP_AUTHORIZATION": "Bearer"}, {"HTTP_AUTHORIZATION": "Bearer " + "x" * 5000},
                       {"HTTP_AUTHORIZATION": "Basic abc"}, {"HTTP_AUTHORIZATION": "Bearer \x00"}):
            method = browser.post if path == "oidc/sign-transactions" else browser.get
            answer = method(f"/{muni_a.code}/{path}", **header)
            assert answer.status_code in (400, 401, 403), (path, header, answer.status_code)
    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="sign")
    endpoint = rp.metadata["sign_transaction_endpoint"]
    for body in (b"", b"nope", b"[]", b'{"document": 1, "title": "t"}', b'{"document": "!!", "title": "t"}',
                 b'{"document": "", "title": "t"}', b'{"document": "YQ", "title": ""}', b'{"document": "YQ"}'):
        answer = rp.session.post(endpoint, data=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (body, answer.status_code)
        assert answer.json()["error"] == "invalid_request" and answer.json()["error_description"]
    assert not SignTransaction.unscoped.exists()
    # client credentials carry only `sign`, and only for a client whose basis allows it.
    with pytest.raises(OAuthError) as refused:
        rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="openid name")
    assert refused.value.error == "invalid_scope", refused.value.description


@pytest.mark.django_db
def test_logout_and_discovery(browser, muni_a):
    for params in ({"id_token_hint": "x"}, {"client_id": "\x00", "post_logout_redirect_uri": "https://x/"}, {"id_token_hint": "a.b.c"}, {"post_logout_redirect_uri": "https://x/"},
                   {"client_id": "nope", "post_logout_redirect_uri": "https://x/"}):
        assert browser.get(f"/{muni_a.code}/oidc/logout", params).status_code == 400, params
    assert browser.get(f"/{muni_a.code}/oidc/logout").status_code == 200  # asks to confirm
    assert browser.post(f"/{muni_a.code}/.well-known/openid-configuration").status_code == 405
    assert browser.get("/000000/.well-known/openid-configuration").status_code == 404
