"""A native app (a public OpenID Connect client, RFC 8252) signs the resident in through a
real browser and uses the applications API with its access token. Two of the app's
redirect URIs: a loopback listener on a port chosen at run time (registered without a
port, §7.3) — the app is a real HTTP server on 127.0.0.1 that exchanges the code with its
PKCE verifier and no secret — and a private-use scheme, which the browser hands over (the
consent page's CSP form-action must let the redirect through)."""

import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_card_sign_in import card_client, wait_page_url
from tests.oidc.rp import RelyingParty
from tests.server import madoguchi

CODE = "139998"
SCHEME_REDIRECT = "jp.lg.example.madoguchi:/callback"


def public_client(issuer, client_id, redirect_uri) -> RelyingParty:
    """The test relying party, speaking as a public client: no secret (auth method none)."""
    rp = RelyingParty(issuer, client_id, redirect_uri)
    rp.session = OAuth2Session(client_id, redirect_uri=redirect_uri, code_challenge_method="S256",
                               token_endpoint_auth_method="none")
    return rp


class LoopbackApp:
    """The app's loopback listener: /start opens the authorization, /callback finishes it and
    lists the resident's applications through the API."""

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
                if self.path.startswith("/start"):
                    self.send_response(302)
                    # identify: the first sign-in links the demo card to the resident record
                    self.send_header("Location", outer.rp.authorization_url(
                        "openid applications", acr_values="urn:madoguchi:acr:identify"))
                    self.end_headers()
                    return
                try:
                    result = outer.rp.finish(outer.base + self.path)
                    mine = outer.rp.session.get(f"{outer.rp.issuer}/api/applications/applications")
                    result["applications"] = (mine.status_code, mine.json())
                    outer.results.append(result)
                    body = (f"<h1>app signed in</h1><p id='scope'>{html.escape(result['token']['scope'])}</p>"
                            f"<p id='api'>{mine.status_code}</p>")
                    status = 200
                except Exception as exc:  # shown in the page, so a failure says why
                    body, status = f"<h1>failed</h1><pre>{html.escape(repr(exc))}</pre>", 500
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(f"<!doctype html><html lang='ja'><title>App</title>{body}</html>".encode())

        return Handler

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def native_app(server):
    out = madoguchi(server.env, "oidc", "client", "add", "--municipality", CODE, "--name", "窓口市公式アプリ",
                    "--redirect-uri", "http://127.0.0.1/callback", "--redirect-uri", SCHEME_REDIRECT,
                    "--scope", "openid applications", "--legal-basis", "municipal_service", "--auth-method", "none")
    assert "client_secret" not in out
    client_id = re.search(r"client_id: (\S+)", out).group(1)
    app = LoopbackApp()
    app.rp = public_client(f"{server.base_url}/{CODE}", client_id, f"{app.base}/callback")
    yield app
    app.stop()


def test_a_native_app_through_a_loopback_redirect_and_a_private_use_scheme(server, browser, native_app):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    console = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{native_app.base}/start")
    result = card_client(server, wait_page_url(page), "--pin", "1234", "--password", "MADO2026")
    assert result.returncode == 0, result.stderr
    assert "窓口市公式アプリ" in result.stdout  # the card client shows who asks
    page.get_by_role("heading", name="情報の提供への同意").wait_for(timeout=15000)
    assert page.get_by_text("公式のアプリ").is_visible()
    screenshot(page, "oidc-native-consent")
    assert axe_violations(page) == []
    page.get_by_role("button", name="同意して続ける").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/callback"), timeout=15000)
    assert page.get_by_role("heading", name="app signed in").is_visible(), page.content()[:3000]
    assert page.locator("#api").inner_text() == "200"
    got = native_app.results[-1]
    assert set(got["token"]["scope"].split()) == {"openid", "applications"} and got["token"]["refresh_token"]
    assert got["applications"] == (200, [])

    # The same app by its private-use scheme: consent again (a public client always asks),
    # then the browser is sent to the scheme — the consent page's form-action allows it.
    scheme_app = public_client(native_app.rp.issuer, native_app.rp.client_id, SCHEME_REDIRECT)
    handed_over = []
    page.on("response", lambda r: handed_over.append(r.headers.get("location", ""))
            if r.status == 302 and r.headers.get("location", "").startswith(SCHEME_REDIRECT) else None)
    page.goto(scheme_app.authorization_url("openid applications"))
    page.get_by_role("heading", name="情報の提供への同意").wait_for(timeout=15000)
    page.get_by_role("button", name="同意して続ける").click()
    page.wait_for_timeout(1500)
    assert handed_over, "the authorization never redirected to the app's scheme"
    assert not [m for m in console if "form-action" in m], console
    token = scheme_app.finish(handed_over[-1])["token"]
    mine = scheme_app.session.get(f"{scheme_app.issuer}/api/applications/procedures")
    assert mine.status_code == 200 and mine.json()
    refreshed = scheme_app.session.refresh_token(scheme_app.metadata["token_endpoint"],
                                                 refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    context.close()
