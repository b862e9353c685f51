"""Signing transactions, consent revocation, logout, key rotation, acr for login, isolation."""

import base64
import os
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import keys
from madoguchi.oidc.claims import ACR
from madoguchi.oidc.models import Consent, Token

from .flow import follow, path_of

DOCUMENT = "貸出規約に同意します。\n窓口市立図書館\n".encode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.django_db
def test_a_signing_transaction_whose_cms_openssl_verifies(make_rp, identified, browser, pki, tmp_path):
    rp = make_rp(method="private_key_jwt", scopes=("name", "sign"))
    # 1. The relying party registers the document with a client-credentials token.
    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="sign")
    registered = rp.session.post(rp.metadata["sign_transaction_endpoint"],
                                 json={"document": base64.urlsafe_b64encode(DOCUMENT).decode(), "title": "貸出規約"})
    assert registered.status_code == 201, registered.text
    tx = registered.json()
    # 2. The resident authorizes scope=openid sign with the transaction id, consents, signs.
    callback, consent, purposes = follow(browser, rp.authorization_url("openid sign", sign_transaction_id=tx["id"]),
                                         pki.taro)
    assert purposes == ["sign"] and "貸出規約" in consent and tx["document_sha256"] in consent
    result = rp.finish(callback)
    # 3. The relying party fetches the CMS and the certificate with the resident's token.
    answer = rp.session.get(f"{rp.metadata['sign_transaction_endpoint']}/{tx['id']}/result")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verification"]["verdict"] == "valid" and body["document_sha256"] == tx["document_sha256"]
    (tmp_path / "doc.txt").write_bytes(DOCUMENT)
    (tmp_path / "sig.p7s").write_bytes(unb64(body["cms"]))
    (tmp_path / "ca.pem").write_bytes(_sign_ca(pki))
    if shutil.which("openssl") or os.environ.get("CI") == "true":
        verify = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
                                 "-content", tmp_path / "doc.txt", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
                                 "-out", "/dev/null"], capture_output=True, text=True, timeout=30)
        assert verify.returncode == 0, verify.stderr
    from cryptography import x509

    signer = x509.load_der_x509_certificate(unb64(body["certificate"]))
    assert signer == pki.taro.issued.sign_cert
    assert result["id_token"]["acr"] == ACR["identify"]
    # Another relying party's token gets nothing.
    other = make_rp(name="別のサービス", redirect="https://univ.example.jp/cb")
    callback, _, _ = follow(browser, other.authorization_url("openid"), pki.taro)
    other.finish(callback)
    assert other.session.get(f"{rp.metadata['sign_transaction_endpoint']}/{tx['id']}/result").status_code in (403, 404)


@pytest.mark.django_db
def test_a_signing_transaction_over_a_registered_digest(make_rp, identified, browser, pki, tmp_path):
    """As the national app does: the relying party keeps its document and registers its SHA-256."""
    import hashlib

    rp = make_rp(method="private_key_jwt", scopes=("name", "sign"))
    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="sign")
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    for bad in ({"document_sha256": "XYZ", "title": "t"}, {"document_sha256": digest, "document": "QQ", "title": "t"},
                {"title": "t"}):
        assert rp.session.post(rp.metadata["sign_transaction_endpoint"], json=bad).status_code == 400
    registered = rp.session.post(rp.metadata["sign_transaction_endpoint"],
                                 json={"document_sha256": digest, "title": "貸出規約（ハッシュのみ）"})
    assert registered.status_code == 201, registered.text
    tx = registered.json()
    assert tx["document_sha256"] == digest
    callback, consent, purposes = follow(browser, rp.authorization_url("openid sign", sign_transaction_id=tx["id"]),
                                         pki.taro)
    assert purposes == ["sign"] and digest in consent
    rp.finish(callback)
    body = rp.session.get(f"{rp.metadata['sign_transaction_endpoint']}/{tx['id']}/result").json()
    assert body["verification"]["verdict"] == "valid"
    (tmp_path / "doc.txt").write_bytes(DOCUMENT)
    (tmp_path / "sig.p7s").write_bytes(unb64(body["cms"]))
    (tmp_path / "ca.pem").write_bytes(_sign_ca(pki))
    verify = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
                             "-content", tmp_path / "doc.txt", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
                             "-out", "/dev/null"], capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0, verify.stderr


@pytest.mark.django_db
def test_a_document_signed_with_another_card_is_not_adopted(make_rp, identified, browser, pki, muni_a):
    """The ceremony's result names who signed: 窓口 太郎 is signed in, 花子's card signs."""
    from madoguchi.audit.models import AuditEvent
    from madoguchi.oidc.models import SignTransaction

    rp = make_rp(method="private_key_jwt", scopes=("name", "sign"))
    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials", scope="sign")
    tx = rp.session.post(rp.metadata["sign_transaction_endpoint"],
                         json={"document": base64.urlsafe_b64encode(DOCUMENT).decode(), "title": "貸出規約"}).json()
    callback, consent, purposes = follow(browser, rp.authorization_url("openid sign", sign_transaction_id=tx["id"]),
                                         pki.hanako)
    assert purposes == ["sign"] and consent
    assert query(callback)["error"] == "access_denied"
    assert "not the signed-in resident's" in query(callback)["error_description"]
    with tenant(muni_a):
        row = SignTransaction.objects.get(public_id=tx["id"])
        assert row.status == SignTransaction.Status.PENDING and row.signature is None and row.person is None
        assert AuditEvent.objects.filter(action="oidc.sign_refused").count() == 1


def _sign_ca(pki):
    from cryptography.hazmat.primitives import serialization

    return pki.ca.certificate("sign").public_bytes(serialization.Encoding.PEM)


@pytest.mark.django_db
def test_sign_needs_a_registered_transaction(make_rp, identified, browser):
    rp = make_rp(scopes=("sign",))
    answer = browser.get(path_of(rp.authorization_url("openid sign")))
    assert query(answer["Location"])["error"] == "invalid_request"
    answer = browser.get(path_of(rp.authorization_url("openid sign",
                                                      sign_transaction_id="00000000-0000-0000-0000-000000000000")))
    assert "Unknown" in query(answer["Location"])["error_description"]


@pytest.mark.django_db
def test_revoking_consent_on_the_account_page(make_rp, identified, browser, pki, muni_a):
    rp = make_rp()
    callback, consent, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    rp.finish(callback)
    page = browser.get(f"/{muni_a.code}/account/").content.decode()
    assert "窓口市立図書館" in page and "同意を取り消す" in page
    with tenant(muni_a):
        consent_row = Consent.objects.get()
    response = browser.post(f"/{muni_a.code}/oidc/consents/{consent_row.pk}/revoke")
    assert response.status_code == 302
    assert rp.session.get(rp.metadata["userinfo_endpoint"]).status_code == 401  # its tokens are revoked
    assert not Token.unscoped.filter(revoked=False).exists()
    _, consent, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    assert consent is not None  # asked again


@pytest.mark.django_db
def test_login_assurance_tells_itself_apart(make_rp, identified, browser, pki, muni_a):
    from django.test import Client

    rp = make_rp()
    fresh = Client(HTTP_HOST="localhost")  # another browser: `login` with the PIN only
    callback, _, purposes = follow(fresh, rp.authorization_url("openid"), pki.taro)
    assert purposes == ["login"]
    claims = rp.finish(callback)["id_token"]
    assert claims["acr"] == ACR["login"] and "pwd" not in claims["amr"] and "pin" in claims["amr"]
    # Asking for facts after a `login` needs an `identify`.
    callback, _, purposes = follow(fresh, rp.authorization_url("openid name"), pki.taro)
    assert purposes == ["identify"]


@pytest.mark.django_db
def test_rp_initiated_logout(make_rp, identified, browser, pki, muni_a):
    rp = make_rp(post_logout_redirect_uris=["https://library.example.jp/bye"])
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    id_token = rp.finish(callback)["token"]["id_token"]
    bad = browser.get(f"/{muni_a.code}/oidc/logout", {"id_token_hint": id_token,
                                                      "post_logout_redirect_uri": "https://evil.example.com/"})
    assert bad.status_code == 400
    out = browser.get(f"/{muni_a.code}/oidc/logout", {"id_token_hint": id_token, "state": "s1",
                                                      "post_logout_redirect_uri": "https://library.example.jp/bye"})
    assert out.status_code == 302 and out["Location"] == "https://library.example.jp/bye?state=s1"
    assert browser.get(f"/{muni_a.code}/account/").status_code == 302  # signed out
    forged = browser.get(f"/{muni_a.code}/oidc/logout", {"id_token_hint": id_token[:-4] + "AAAA"})
    assert forged.status_code == 400


@pytest.mark.django_db
def test_key_rotation_keeps_the_old_key_published(make_rp, identified, browser, pki, muni_a):
    rp = make_rp(alg="ES256")
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    old = rp.finish(callback)["token"]["id_token"]
    old_kid = jwt.decode(old, KeySet.import_key_set(rp.http.get(rp.metadata["jwks_uri"]).json())).header["kid"]
    with tenant(muni_a):
        new_kid = keys.rotate(muni_a, "ES256").kid
    published = rp.http.get(rp.metadata["jwks_uri"]).json()
    kids = {k["kid"] for k in published["keys"]}
    assert {old_kid, new_kid} <= kids and not any("d" in k for k in published["keys"])  # public only
    jwt.decode(old, KeySet.import_key_set(published))  # still verifies
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    assert rp.finish(callback)["id_token"].header["kid"] == new_kid


@pytest.mark.django_db
def test_each_municipality_is_its_own_issuer(make_rp, browser, muni_a, muni_b):
    a = browser.get(f"/{muni_a.code}/.well-known/openid-configuration").json()
    b = browser.get(f"/{muni_b.code}/.well-known/openid-configuration").json()
    assert a["issuer"] == f"http://localhost/{muni_a.code}" and b["issuer"] == f"http://localhost/{muni_b.code}"
    a_keys = {k["kid"] for k in browser.get(f"/{muni_a.code}/oidc/jwks").json()["keys"]}
    b_keys = {k["kid"] for k in browser.get(f"/{muni_b.code}/oidc/jwks").json()["keys"]}
    assert a_keys and b_keys and not a_keys & b_keys
    rp = make_rp()  # A's client is unknown to B
    url = rp.authorization_url("openid").replace(f"/{muni_a.code}/", f"/{muni_b.code}/")
    answer = browser.get(path_of(url))
    assert answer.status_code == 400 and "Location" not in answer


@pytest.mark.django_db
@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}])
def test_prompt_login_and_max_age_ask_for_the_card_again(make_rp, identified, browser, pki, extra):
    rp = make_rp()
    callback, _, purposes = follow(browser, rp.authorization_url("openid"), pki.taro)
    assert purposes == []  # signed in already
    rp.finish(callback)
    callback, _, purposes = follow(browser, rp.authorization_url("openid", **extra), pki.taro)
    assert purposes == ["login"]  # once, then the code
    assert "code" in query(callback)
    rp.finish(callback)
