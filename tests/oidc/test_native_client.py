"""A phone app as a public OpenID Connect client (RFC 8252, PKCE RFC 7636,
token_endpoint_auth_method `none`): the code flow with Authlib's requests client, the
applications API with the access token, refresh rotation, what a public client is refused,
the redirect URI rules and registration (back office and CLI)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.test import Client as DjangoClient

from madoguchi.audit.models import AuditEvent
from madoguchi.oidc.models import Client, Token
from tests.applications.conftest import app_settings, catalog_a  # noqa: F401  (fixtures)
from tests.test_cli import madoguchi

from .flow import card_completes, path_of
from .rp import DjangoTransport, RelyingParty

APP = "jp.lg.example.madoguchi:/callback"
LOOPBACK = "http://127.0.0.1/callback"
CLAIMED = "https://app.example.jp/madoguchi/callback"


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def leaves(location: str) -> bool:
    """Whether a redirect leaves the provider for the app (its scheme, loopback or claimed URI)."""
    parts = urlsplit(location)
    return bool(parts.scheme) and (parts.scheme not in ("http", "https") or parts.hostname != "localhost")


def follow(browser, url, card=None, *, consent="allow", max_steps=12):
    """tests/oidc/flow.follow for a native app's redirect URIs: (where the browser leaves
    for the app or the last response, the consent page HTML or None)."""
    consent_page = None
    response = browser.get(path_of(url))
    for _ in range(max_steps):
        if response.status_code == 302:
            location = response["Location"]
            if leaves(location):
                return location, consent_page
            parts = urlsplit(location).path.strip("/").split("/")
            if len(parts) == 3 and parts[1] == "ceremony":
                assert card_completes(parts[0], parts[2], card).status_code == 200
                response = browser.get(f"/{parts[0]}/ceremony/{parts[2]}/finish/")
                continue
            response = browser.get(location)
            continue
        if response.status_code == 200 and b'name="decision"' in response.content:
            consent_page = response.content.decode()
            response = browser.post(response.context["action"], {"decision": consent})
            continue
        return response, consent_page
    raise AssertionError("too many steps")


@pytest.fixture
def native(register, muni_a):
    """native(...) → a RelyingParty speaking as a public client (Authlib, auth method none)."""

    def make(redirect=APP, scopes=("applications",), **extra):
        row, secret = register(method="none", redirect=redirect, scopes=scopes, name="窓口市アプリ", **extra)
        assert secret is None and row.is_public
        transport = DjangoClient(HTTP_HOST="localhost")
        rp = RelyingParty(f"http://localhost/{muni_a.code}", row.client_id, redirect, django_client=transport)
        # What the phone app holds: its client_id and nothing secret.
        rp.session = OAuth2Session(row.client_id, redirect_uri=redirect, code_challenge_method="S256",
                                   token_endpoint_auth_method="none")
        rp.session.mount("http://localhost", DjangoTransport(transport))
        rp.row = rp.session.row = row
        return rp

    return make


def token_post(rp, **data):
    """A raw token request, form-encoded, with nothing but what is given."""
    headers = data.pop("headers", {})
    return rp.http.post(rp.metadata["token_endpoint"], data=data, headers=headers)


def api(code, token, path, method="GET", body=None):
    return DjangoClient().generic(method, f"/{code}/api/applications{path}",
                                data=json.dumps(body) if body is not None else "",
                                content_type="application/json", headers={"Authorization": f"Bearer {token}"})


# ---- the whole flow ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_phone_app_signs_in_and_uses_the_applications_api(native, identified, browser, pki, catalog_a):
    rp = native()
    assert "none" in rp.metadata["token_endpoint_auth_methods_supported"]
    assert "S256" in rp.metadata["code_challenge_methods_supported"]
    url = rp.authorization_url("openid applications")
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    callback, consent = follow(browser, url, pki.taro)
    assert callback.startswith(APP + "?") and "申請" in consent and "窓口市アプリ" in consent
    assert "公式のアプリ" in consent  # the resident is told to check which app asks (RFC 8252 §8.6)
    result = rp.finish(callback)  # code → tokens with the verifier, ID token verified, userinfo
    token = result["token"]
    assert set(token["scope"].split()) == {"openid", "applications"} and token["expires_in"] == 300
    assert result["id_token"]["aud"] == [rp.client_id] and result["userinfo"]["sub"] == result["id_token"]["sub"]
    assert token["refresh_token"]
    access = token["access_token"]

    session = api(catalog_a.code, access, "/session")
    assert session.status_code == 200 and session.json()["auth"] == "bearer"
    procedures = api(catalog_a.code, access, "/procedures")
    assert procedures.status_code == 200 and "juminhyo-copy" in {p["slug"] for p in procedures.json()}
    mine = api(catalog_a.code, access, "/applications")
    assert mine.status_code == 200 and mine.json() == []
    from tests.applications.helpers import JUMINHYO

    draft = api(catalog_a.code, access, "/drafts", "POST", {"procedure": "juminhyo-copy", "data": JUMINHYO})
    assert draft.status_code == 201, draft.content
    assert [d["id"] for d in api(catalog_a.code, access, "/drafts").json()] == [draft.json()["id"]]

    row = Token.unscoped.get(municipality=catalog_a, access_sha256=__import__("hashlib").sha256(
        access.encode()).hexdigest())
    assert row.client.is_public and row.person is not None
    assert AuditEvent.unscoped.filter(municipality=catalog_a, action="oidc.token_issued",
                                      data__grant="authorization_code").exists()


@pytest.mark.django_db
def test_refresh_tokens_rotate_and_a_replay_revokes_the_family(native, identified, browser, pki, catalog_a):
    rp = native()
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    first = rp.finish(callback)["token"]
    second = rp.session.refresh_token(rp.metadata["token_endpoint"], refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert api(catalog_a.code, second["access_token"], "/applications").status_code == 200
    assert api(catalog_a.code, first["access_token"], "/applications").status_code == 401  # rotated out
    # The first refresh token comes back (a copy elsewhere): refused, and the family is revoked.
    replay = token_post(rp, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=rp.client_id)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert api(catalog_a.code, second["access_token"], "/applications").status_code == 401
    again = token_post(rp, grant_type="refresh_token", refresh_token=second["refresh_token"], client_id=rp.client_id)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert AuditEvent.unscoped.filter(action="oidc.refresh_replayed").exists()
    # Another client cannot refresh the app's token by naming itself.
    other = native(redirect="jp.lg.example.other:/cb")
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    third = rp.finish(callback)["token"]
    stolen = token_post(rp, grant_type="refresh_token", refresh_token=third["refresh_token"],
                        client_id=other.client_id)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


# ---- PKCE -------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("verifier,error", [(None, "invalid_request"), ("wrong", "invalid_grant"),
                                            ("short", "invalid_request")])
def test_the_code_needs_its_verifier(native, identified, browser, pki, verifier, error):
    rp = native()
    url = rp.authorization_url("openid applications")
    callback, _ = follow(browser, url, pki.taro)
    code, state = query(callback)["code"], query(callback)["state"]
    right = rp.pending[state][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP, "client_id": rp.client_id}
    if verifier == "wrong":
        data["code_verifier"] = generate_token(48)
    elif verifier == "short":
        data["code_verifier"] = "abc"
    refused = token_post(rp, **data)
    assert refused.status_code == 400 and refused.json()["error"] == error, refused.text
    # The code is spent by the failed attempt: the right verifier after it is too late.
    late = token_post(rp, **{**data, "code_verifier": right})
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


@pytest.mark.django_db
def test_an_authorization_without_pkce_is_refused(native, browser, muni_a):
    rp = native()
    url = rp.authorization_url("openid applications")
    bare = "&".join(p for p in urlsplit(url).query.split("&") if not p.startswith("code_challenge"))
    refused = browser.get(f"/{muni_a.code}/oidc/authorize?{bare}")
    assert refused.status_code == 302 and refused["Location"].startswith(APP + "?")
    assert query(refused["Location"])["error"] == "invalid_request"
    assert "PKCE" in query(refused["Location"])["error_description"]


@pytest.mark.django_db
def test_hostile_token_requests_of_a_public_client(native, identified, browser, pki):
    rp = native()
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    code, state = query(callback)["code"], query(callback)["state"]
    base = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP,
            "code_verifier": rp.pending[state][0]}
    for client_id in ("", "x" * 5000, rp.client_id + "\x00", "rp-unknown"):
        refused = token_post(rp, **base, client_id=client_id)
        assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_client", client_id
    for change in ({"code_verifier": "v" * 5000}, {"code": "c" * 5000}, {"redirect_uri": "\x00"},
                   {"grant_type": "password"}):
        refused = token_post(rp, **{**base, **change}, client_id=rp.client_id)
        assert refused.status_code == 400 and refused.json()["error"] in (
            "invalid_request", "invalid_grant", "unsupported_grant_type"), (change, refused.text)
    # The over-long verifier was checked after the code was taken: the code is spent.
    spent = token_post(rp, **base, client_id=rp.client_id)
    assert spent.status_code == 400 and "already used" in spent.json()["error_description"]


# ---- what a public client may not do ------------------------------------------------------------

@pytest.mark.django_db
def test_a_public_client_never_authenticates_with_a_secret_or_takes_client_credentials(
        native, make_rp, identified, browser, pki):
    rp = native()
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    code, state = query(callback)["code"], query(callback)["state"]
    verifier = rp.pending[state][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP, "code_verifier": verifier}
    basic = OAuth2Session(rp.client_id, "made-up-secret", token_endpoint_auth_method="client_secret_basic")
    basic.mount("http://localhost", rp.http.get_adapter("http://localhost"))
    with pytest.raises(OAuthError) as refused:  # client_secret_basic with any secret
        basic.fetch_token(rp.metadata["token_endpoint"], grant_type="authorization_code", code=code,
                          redirect_uri=APP, code_verifier=verifier)
    assert refused.value.error == "invalid_client"
    # The same with client_id in the body too (the request must not fall back to `none`).
    import base64

    header = "Basic " + base64.b64encode(f"{rp.client_id}:x".encode()).decode()
    both = token_post(rp, **data, client_id=rp.client_id, headers={"Authorization": header})
    assert both.status_code == 401 and both.json()["error"] == "invalid_client"
    posted = token_post(rp, **data, client_id=rp.client_id, client_secret="anything")
    assert posted.status_code in (400, 401) and posted.json()["error"] == "invalid_client"
    # None of that spent the code: the app's own request still succeeds.
    ok = token_post(rp, **data, client_id=rp.client_id)
    assert ok.status_code == 200, ok.text
    # No client credentials, whatever the scope and however it asks.
    for scope in ("sign", "applications", "openid"):
        cc = token_post(rp, grant_type="client_credentials", scope=scope, client_id=rp.client_id)
        assert cc.status_code in (400, 401) and cc.json()["error"] == "invalid_client", cc.text
    # A confidential client cannot take client credentials by naming itself without its secret.
    signer = make_rp(scopes=("sign",))
    cc = token_post(rp, grant_type="client_credentials", scope="sign", client_id=signer.client_id)
    assert cc.status_code in (400, 401) and cc.json()["error"] == "invalid_client"


@pytest.mark.django_db
def test_a_confidential_client_cannot_claim_none(make_rp, identified, browser, pki):
    from tests.oidc.flow import follow as follow_web

    rp = make_rp(scopes=())
    callback, _, _ = follow_web(browser, rp.authorization_url("openid"), pki.taro)
    state = query(callback)["state"]
    data = {"grant_type": "authorization_code", "code": query(callback)["code"], "redirect_uri": rp.redirect_uri,
            "code_verifier": rp.pending[state][0], "client_id": rp.client_id}
    refused = token_post(rp, **data)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert rp.finish(callback)["token"]["access_token"]  # with its secret it still works


@pytest.mark.django_db
def test_the_resident_always_consents_for_a_native_app(native, identified, browser, pki):
    rp = native()
    callback, consent = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    assert consent is not None
    rp.finish(callback)
    # Consent is remembered, yet the page is shown again (RFC 8252 §8.6: another app may
    # use the same client_id and scheme) and prompt=none cannot skip it.
    callback, consent = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    assert consent is not None and "code" in query(callback)
    silent = browser.get(path_of(rp.authorization_url("openid applications", prompt="none")))
    assert silent.status_code == 302 and query(silent["Location"])["error"] == "consent_required"
    # Denied: access_denied back to the app.
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro, consent="deny")
    assert query(callback)["error"] == "access_denied"


@pytest.mark.django_db
def test_a_native_app_is_not_given_sign_or_scopes_beyond_its_registration(native, identified, browser, pki):
    rp = native(scopes=("applications", "name"))
    callback, _ = follow(browser, rp.authorization_url("openid sign"), pki.taro)
    assert query(callback)["error"] == "invalid_scope"
    callback, _ = follow(browser, rp.authorization_url("openid address"), pki.taro)
    assert query(callback)["error"] == "invalid_scope"
    callback, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    assert rp.finish(callback)["userinfo"]["name"] == "窓口　太郎"  # a fact it registered, as its basis allows
    # A row edited behind registration's back still never yields `sign`.
    Client.unscoped.filter(pk=rp.row.pk).update(scopes="openid applications sign")
    rp.row.refresh_from_db()
    assert "sign" not in rp.row.scope_set() and not rp.row.check_grant_type("client_credentials")


# ---- redirect URIs ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_loopback_redirects_match_any_port_and_nothing_else(native, identified, browser, pki, muni_a):
    rp = native(redirect=LOOPBACK)
    for port in (49152, 8080):
        rp.redirect_uri = rp.session.redirect_uri = f"http://127.0.0.1:{port}/callback"
        callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
        assert callback.startswith(f"http://127.0.0.1:{port}/callback?")
        assert rp.finish(callback)["token"]["access_token"]
    # The token request must name the same URI the authorization did (another port: refused).
    rp.redirect_uri = rp.session.redirect_uri = "http://127.0.0.1:50001/callback"
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    state = query(callback)["state"]
    other_port = token_post(rp, grant_type="authorization_code", code=query(callback)["code"],
                            redirect_uri="http://127.0.0.1:50002/callback", code_verifier=rp.pending[state][0],
                            client_id=rp.client_id)
    assert other_port.status_code == 400 and other_port.json()["error"] == "invalid_grant"
    for wrong in ("http://127.0.0.1:50001/other", "http://127.0.0.1:50001/callback/x", "http://localhost:50001/callback",
                  "http://[::1]:50001/callback", "https://127.0.0.1:50001/callback",
                  "http://127.0.0.1:50001/callback?x=1", "http://127.0.0.1:99999/callback",
                  "http://127.0.0.1:port/callback", "http://x@127.0.0.1:50001/callback", "http://127.0.0.1:0/callback",
                  "http://[::1/callback", "http://127.0.0.1:50001/callback#f", "http://127.0.0.1:50001/" + "c" * 5000):
        rp.redirect_uri = rp.session.redirect_uri = wrong
        page = browser.get(path_of(rp.authorization_url("openid applications")))
        assert page.status_code == 400 and "Location" not in page, wrong  # an error page, never a redirect


@pytest.mark.django_db
def test_other_redirects_match_exactly(native, make_rp, identified, browser, pki):
    app = native()
    for wrong in ("jp.lg.example.madoguchi:/callback2", "jp.lg.example.madoguchi:/Callback",
                  "jp.lg.example.madoguchi://callback", "jp.lg.example.evil:/callback"):
        app.redirect_uri = app.session.redirect_uri = wrong
        page = browser.get(path_of(app.authorization_url("openid applications")))
        assert page.status_code == 400 and "Location" not in page, wrong
    claimed = native(redirect=CLAIMED)
    callback, _ = follow(browser, claimed.authorization_url("openid applications"), pki.taro)
    assert callback.startswith(CLAIMED + "?") and claimed.finish(callback)["token"]
    # A confidential web client's loopback URI is exact, port included.
    web = make_rp(scopes=(), redirect="http://127.0.0.1:8000/cb")
    web.redirect_uri = web.session.redirect_uri = "http://127.0.0.1:8001/cb"
    page = browser.get(path_of(web.authorization_url("openid")))
    assert page.status_code == 400 and "Location" not in page


@pytest.mark.django_db
def test_logout_back_to_the_app(native, muni_a, identified, browser, pki):
    rp = native(post_logout_redirect_uris=["jp.lg.example.madoguchi:/logged-out"])
    callback, _ = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    id_token = rp.finish(callback)["token"]["id_token"]
    out = browser.get(f"/{muni_a.code}/oidc/logout", {
        "id_token_hint": id_token, "post_logout_redirect_uri": "jp.lg.example.madoguchi:/logged-out", "state": "s1"})
    assert out.status_code == 302 and out["Location"] == "jp.lg.example.madoguchi:/logged-out?state=s1"
    refused = browser.get(f"/{muni_a.code}/oidc/logout", {
        "id_token_hint": id_token, "post_logout_redirect_uri": "jp.lg.example.evil:/logged-out"})
    assert refused.status_code == 400


# ---- registration -----------------------------------------------------------------------------

BAD_NATIVE = [
    ({"redirect": "myapp:/callback"}, "reverse domain name"),
    ({"redirect": "MadoGuchi.Example.jp:/callback"}, "reverse domain name"),
    ({"redirect": "jp.lg.example.madoguchi:callback"}, "needs a path"),
    ({"redirect": "http://app.example.jp/callback"}, "loopback"),
    ({"redirect": "http://localhost:8080/callback"}, "loopback"),
    ({"redirect": "http://127.0.0.1:8080"}, "loopback"),
    ({"redirect": "jp.lg.example.madoguchi:/callback#frag"}, "fragment"),
    ({"redirect": "javascript:alert(1)"}, "reverse domain name"),
    ({"redirect": "jp.lg.example.madoguchi:/ca llback"}, "no spaces"),
    ({"redirect": "jp.lg.example.madoguchi:/" + "x" * 600}, "1-500"),
    ({"redirect": "jp.lg.example.madoguchi:/cb\x00"}, "1-500"),
    ({"basis": "signature_verifier", "scopes": ("name",)}, "only under the legal basis municipal_service"),
    ({"basis": "user_verifier", "scopes": ()}, "only under the legal basis municipal_service"),
    ({"scopes": ("applications", "sign")}, "may not hold: sign"),
    ({"jwks": {"keys": []}}, "has no keys"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("change,message", BAD_NATIVE)
def test_bad_native_registrations_are_refused(register, muni_a, change, message):
    from django.core.exceptions import ValidationError

    kwargs = {"scopes": ("applications",), "redirect": APP, **change}
    with pytest.raises(ValidationError) as refused:
        register(method="none", **kwargs)
    assert any(message in m for m in refused.value.messages), refused.value.messages
    assert not Client.unscoped.filter(municipality=muni_a).exists()


@pytest.mark.django_db
def test_a_custom_scheme_is_still_refused_for_a_web_client(register):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        register(method="client_secret_basic", redirect=APP, scopes=())


@pytest.mark.django_db
def test_an_administrator_registers_a_native_app(client_admin_a, muni_a):
    url = f"/{muni_a.code}/staff/oidc/clients/new/"
    form = {"name": "窓口市公式アプリ", "redirect_uris": f"{APP}\n{LOOPBACK}\n{CLAIMED}", "scopes": ["applications"],
            "legal_basis": "municipal_service", "auth_method": "none", "id_token_alg": "ES256"}
    created = client_admin_a.post(url, form)
    assert created.status_code == 200, created.content.decode()[:2000]
    page = created.content.decode()
    row = Client.unscoped.get(municipality=muni_a, name="窓口市公式アプリ")
    assert row.is_public and row.secret_sha256 == "" and row.redirect_uris == [APP, LOOPBACK, CLAIMED]
    assert row.client_id in page and "client_secret" not in page and "PKCE" in page
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="oidc.client_registered",
                                      data__auth_method="none").exists()
    listing = client_admin_a.get(f"/{muni_a.code}/staff/oidc/clients/").content.decode()
    assert "ネイティブアプリ" in listing
    assert f"/staff/oidc/clients/{row.pk}/secret/" not in listing and f"/staff/oidc/clients/{row.pk}/keys/" not in listing
    # No secret to rotate, no keys to replace: refused with a message, nothing changed.
    assert client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/{row.pk}/secret/").status_code == 302
    assert client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/{row.pk}/keys/",
                               {"jwks": json.dumps({"keys": []})}).status_code == 302
    row.refresh_from_db()
    assert row.secret_sha256 == "" and row.jwks == {}
    # Bad input: the form again with the reason, nothing saved.
    for name, change, reason in (
            ("スキーム違い", {"redirect_uris": "myapp:/callback"}, "reverse domain name"),
            ("平文", {"redirect_uris": "http://app.example.jp/cb"}, "loopback"),
            ("署名", {"scopes": ["applications", "sign"]}, "may not hold: sign"),
            ("根拠違い", {"legal_basis": "platform_operator", "scopes": ["name"]}, "municipal_service")):
        refused = client_admin_a.post(url, {**form, "name": name, **change})
        assert refused.status_code == 200 and reason in refused.content.decode(), name
        assert not Client.unscoped.filter(name=name).exists()


def test_the_cli_registers_a_native_app(tmp_path):
    assert madoguchi("migrate", data_dir=tmp_path).returncode == 0
    assert madoguchi("demo", data_dir=tmp_path).returncode == 0
    base = ["oidc", "client", "add", "--municipality", "139998", "--name", "窓口市アプリ",
            "--legal-basis", "municipal_service", "--auth-method", "none", "--scope", "openid applications"]
    ok = madoguchi(*base, "--redirect-uri", APP, "--redirect-uri", LOOPBACK, data_dir=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("client_id: rp-") and "client_secret" not in ok.stdout and "public client" in ok.stdout
    for extra in (["--redirect-uri", "myapp:/callback"], ["--redirect-uri", "http://app.example.jp/cb"],
                  ["--redirect-uri", APP, "--scope", "openid sign"]):
        args = [*base, *extra]
        if "--scope" in extra:
            args = [a for i, a in enumerate(base) if a != "--scope" and base[i - 1] != "--scope"] + extra
        result = madoguchi(*args, data_dir=tmp_path)
        assert result.returncode == 2, (extra, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("madoguchi:"), result.stderr
    basis = madoguchi(*[a if a != "municipal_service" else "signature_verifier" for a in base],
                      "--redirect-uri", APP, data_dir=tmp_path)
    assert basis.returncode == 2 and "municipal_service" in basis.stderr
