"""A relying party signs a resident in through madoguchi in a real browser: RP → authorization
→ QR page → the card client (a subprocess with the demo's virtual card) → consent → back at
the RP, which verifies the ID token against the JWKS and reads userinfo. The RP is the test
suite's own, built on Authlib's client, serving real HTTP on 127.0.0.1."""

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import RSAKey

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_card_sign_in import card_client, wait_page_url
from tests.oidc.rp import RelyingParty
from tests.server import madoguchi

CODE = "139998"


class RPServer:
    """A relying party web site: /login starts, /callback finishes and shows what it learnt."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.rp = None
        self.results = []
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
                try:
                    result = outer.rp.finish(outer.base + self.path)
                    outer.results.append(result)
                    body = (f"<h1>verified</h1><p id='name'>{html.escape(result['userinfo']['name'])}</p>"
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
    for method, alg in (("client_secret_basic", "ES256"), ("private_key_jwt", "RS256")):
        site = RPServer()
        extra, private = [], None
        if method == "private_key_jwt":
            private = RSAKey.generate_key(2048, auto_kid=True)
            jwks = tmp_path_factory.mktemp("rp") / "jwks.json"
            jwks.write_text(json.dumps({"keys": [private.as_dict(private=False)]}))
            extra = ["--jwks", str(jwks)]
        out = madoguchi(server.env, "oidc", "client", "add", "--municipality", CODE, "--name", f"テスト連携 {method}",
                        "--redirect-uri", f"{site.base}/callback", "--scope", "openid name address birthdate gender",
                        "--legal-basis", "municipal_service", "--auth-method", method, "--alg", alg, *extra)
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
    for i, (method, site) in enumerate(relying_parties.items()):
        page.goto(f"{site.base}/login")
        if i == 0:  # the first time: an `identify` ceremony through the card client
            url = wait_page_url(page)
            result = card_client(server, url, "--pin", "1234", "--password", "MADO2026")
            assert result.returncode == 0, result.stderr
            assert f"テスト連携 {method}" in result.stdout  # the card client shows who asks
        page.get_by_role("heading", name="情報の提供への同意").wait_for(timeout=15000)
        assert page.get_by_text("窓口　太郎").is_visible()
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
