"""A relying party signs a resident in through madoguchi in a real browser: RP → authorization
→ QR page → the card client (a subprocess with the demo's virtual card) → consent → back at
the RP, which verifies the ID token against the JWKS and reads userinfo. The RP is the test
suite's own, built on Authlib's client, serving real HTTP on 127.0.0.1."""

import base64
import html
import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import RSAKey

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_card_sign_in import card_client, wait_page_url
from tests.oidc.rp import RelyingParty
from tests.server import madoguchi

CODE = "139998"
DOCUMENT = "窓口市立図書館 入会申込書\n氏名は署名者のとおり。\n".encode()


class RPServer:
    """A relying party web site: /login starts, /callback finishes and shows what it learnt."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.rp = None
        self.results = []
        self.transaction = None
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/login"):
                    self.send_response(302)
                    self.send_header("Location", outer.rp.authorization_url("openid name address birthdate gender"))
                    self.end_headers()
                    return
                if self.path.startswith("/sign"):  # register the document, then ask the resident to sign it
                    rp = outer.rp
                    rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials",
                                           scope="sign")
                    tx = rp.session.post(rp.metadata["sign_transaction_endpoint"], json={
                        "document": base64.urlsafe_b64encode(DOCUMENT).decode(), "title": "入会申込書"}).json()
                    outer.transaction = tx["id"]
                    self.send_response(302)
                    self.send_header("Location", rp.authorization_url("openid sign", sign_transaction_id=tx["id"]))
                    self.end_headers()
                    return
                try:
                    result = outer.rp.finish(outer.base + self.path)
                    outer.results.append(result)
                    if outer.transaction:
                        answer = outer.rp.session.get(
                            f"{outer.rp.metadata['sign_transaction_endpoint']}/{outer.transaction}/result")
                        result["signature"] = answer.json()
                    body = (f"<h1>verified</h1><p id='name'>{html.escape(result['userinfo'].get('name', ''))}</p>"
                            f"<p id='sub'>{result['id_token']['sub']}</p><p id='acr'>{result['id_token']['acr']}</p>")
                    status = 200
                except Exception as exc:  # shown in the page, so a failure says why
                    body, status = f"<h1>failed</h1><pre>{html.escape(repr(exc))}</pre>", 500
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(f"<!doctype html><html lang='ja'><title>RP</title>{body}</html>".encode())

        return Handler

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def relying_parties(server, tmp_path_factory):
    parties = {}
    for method, alg in (("client_secret_basic", "ES256"), ("private_key_jwt", "RS256"), ("sign", "ES256")):
        site = RPServer()
        extra, private = [], None
        scope = "openid sign" if method == "sign" else "openid name address birthdate gender"
        if method in ("private_key_jwt", "sign"):
            private = RSAKey.generate_key(2048, auto_kid=True)
            jwks = tmp_path_factory.mktemp("rp") / "jwks.json"
            jwks.write_text(json.dumps({"keys": [private.as_dict(private=False)]}))
            extra = ["--jwks", str(jwks)]
        out = madoguchi(server.env, "oidc", "client", "add", "--municipality", CODE, "--name", f"テスト連携 {method}",
                        "--redirect-uri", f"{site.base}/callback", "--scope", scope, "--legal-basis",
                        "signature_verifier" if method == "sign" else "municipal_service",
                        "--auth-method", "private_key_jwt" if method == "sign" else method, "--alg", alg, *extra)
        client_id = re.search(r"client_id: (\S+)", out).group(1)
        secret = re.search(r"client_secret \(shown once\): (\S+)", out)
        site.rp = RelyingParty(f"{server.base_url}/{CODE}", client_id, f"{site.base}/callback",
                               secret=secret.group(1) if secret else None, private_key=private,
                               assertion_alg="RS256", id_token_alg=alg)
        parties[method] = site
    yield parties
    for site in parties.values():
        site.stop()


def test_two_relying_parties_sign_the_resident_in(server, browser, relying_parties):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    subs = []
    for i, method in enumerate(("client_secret_basic", "private_key_jwt")):
        site = relying_parties[method]
        page.goto(f"{site.base}/login")
        if i == 0:  # the first time: an `identify` ceremony through the card client
            url = wait_page_url(page)
            result = card_client(server, url, "--pin", "1234", "--password", "MADO2026")
            assert result.returncode == 0, result.stderr
            assert f"テスト連携 {method}" in result.stdout  # the card client shows who asks
        page.get_by_role("heading", name="情報の提供への同意").wait_for(timeout=15000)
        assert page.get_by_text("窓口　太郎", exact=True).is_visible()
        if i == 0:
            screenshot(page, "oidc-consent")
            assert axe_violations(page) == []
        page.get_by_role("button", name="同意して続ける").click()
        page.wait_for_url(re.compile(r"/callback"), timeout=15000)
        assert page.get_by_role("heading", name="verified").is_visible(), page.content()[:3000]
        assert page.locator("#name").inner_text() == "窓口　太郎"
        assert page.locator("#acr").inner_text() == "urn:madoguchi:acr:identify"
        subs.append(page.locator("#sub").inner_text())
        info = site.results[-1]["userinfo"]
        assert info["birthdate"] and info["gender"] and info["address"]["formatted"]
    assert subs[0] != subs[1]
    assert site.results[-1]["id_token"].header["alg"] == "RS256"
    assert relying_parties["client_secret_basic"].results[-1]["id_token"].header["alg"] == "ES256"
    context.close()


def test_a_signing_transaction_in_the_browser(server, browser, relying_parties, tmp_path):
    site = relying_parties["sign"]
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{site.base}/sign")
    # Not signed in here: a `login` first (scope openid sign asks for no facts) …
    result = card_client(server, wait_page_url(page), "--pin", "1234")
    assert result.returncode == 0, result.stderr
    page.get_by_role("heading", name="情報の提供への同意").wait_for(timeout=15000)
    assert page.get_by_text("入会申込書").is_visible()
    screenshot(page, "oidc-sign-consent")
    page.get_by_role("button", name="同意して続ける").click()
    # … then the `sign` ceremony over the relying party's document.
    result = card_client(server, wait_page_url(page), "--password", "MADO2026")
    assert result.returncode == 0, result.stderr
    assert "入会申込書" in result.stdout  # the card client shows why
    page.wait_for_url(re.compile(r"/callback"), timeout=15000)
    assert page.get_by_role("heading", name="verified").is_visible(), page.content()[:3000]
    signature = site.results[-1]["signature"]
    assert signature["verification"]["verdict"] == "valid"
    from madoguchi.pki.devca import DevCA
    from cryptography.hazmat.primitives import serialization

    ca = DevCA.open(server.env["MADOGUCHI_DATA_DIR"]).certificate("sign")
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "doc.txt").write_bytes(DOCUMENT)
    (tmp_path / "sig.p7s").write_bytes(base64.urlsafe_b64decode(signature["cms"] + "=" * (-len(signature["cms"]) % 4)))
    verify = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
                             "-content", tmp_path / "doc.txt", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
                             "-out", "/dev/null"], capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0, verify.stderr
    context.close()
