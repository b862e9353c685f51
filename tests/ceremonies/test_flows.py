"""The ceremony end to end over HTTP (Django test client): browser, card client, API."""

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.ceremonies.models import Ceremony
from madoguchi.identity.models import ResidentLink
from madoguchi.municipalities.tenancy import tenant
from tests.ceremonies.softcard import SoftCard, b64, der


def open_in_browser(client, code, purpose):
    response = client.post(f"/{code}/ceremony/start/", {"purpose": purpose})
    assert response.status_code == 302, response.content[:300]
    return response["Location"].rstrip("/").rsplit("/", 1)[1]


def card_completes(code, ceremony_id, card, audience=None, mutate=None):
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}")
    assert description.status_code == 200, description.content
    body = card.answer(description.json(), audience=audience)
    if mutate:
        mutate(body)
    return reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete", json.dumps(body),
                       content_type="application/json")


def sign_in(client, code, purpose, card):
    ceremony_id = open_in_browser(client, code, purpose)
    completed = card_completes(code, ceremony_id, card)
    assert completed.status_code == 200, completed.json()
    status = client.get(f"/{code}/ceremony/{ceremony_id}/status/")
    assert status["HX-Redirect"] == f"/{code}/ceremony/{ceremony_id}/finish/"
    finish = client.get(status["HX-Redirect"])
    assert finish.status_code == 302 and finish["Location"] == f"/{code}/"  # the top page: what needs the resident first
    return ceremony_id


@pytest.mark.django_db
def test_identify_then_login_through_the_browser(client, muni_a, pki, taro_record):
    code = muni_a.code
    # First visit: `login` with a card nobody has identified yet is refused, with a way forward.
    ceremony_id = open_in_browser(client, code, "login")
    refused = card_completes(code, ceremony_id, pki.taro)
    assert refused.status_code == 403 and refused.json()["code"] == "unknown_card"
    assert "本人確認" in client.get(f"/{code}/ceremony/{ceremony_id}/status/").content.decode()

    sign_in(client, code, "identify", pki.taro)
    account = client.get(f"/{code}/account/")
    assert account.status_code == 200
    page = account.content.decode()
    assert "窓口　太郎" in page and "紐付け済み" in page
    link = ResidentLink.unscoped.get(municipality=muni_a)
    assert link.record == taro_record

    # Second visit, another browser: `login` signs in the same person.
    other = Client()
    sign_in(other, code, "login", pki.taro)
    assert "窓口　太郎" in other.get(f"/{code}/account/").content.decode()
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="resident.signed_in").count() == 2


@pytest.mark.django_db
def test_the_qr_page_and_its_status(client, muni_a, pki):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    page = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in body and f"/api/ceremonies/{ceremony_id}" in body
    assert "<script>" not in body  # no inline script: htmx is loaded from our static files
    assert "カードの読み取りを待っています" in client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/status/").content.decode()
    # Another browser cannot watch it or take its result.
    stranger = Client()
    assert stranger.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").status_code == 403
    assert stranger.get(f"/{muni_a.code}/ceremony/{ceremony_id}/finish/").status_code == 403


@pytest.mark.django_db
def test_replay_is_refused(client, muni_a, pki, taro_record):
    sign_in(client, muni_a.code, "identify", pki.taro)
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    reader = Client()
    description = reader.get(f"/{muni_a.code}/api/ceremonies/{ceremony_id}").json()
    body = json.dumps(pki.taro.answer(description))
    url = f"/{muni_a.code}/api/ceremonies/{ceremony_id}/complete"
    assert reader.post(url, body, content_type="application/json").status_code == 200
    again = reader.post(url, body, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_used"
    # The result is taken once.
    assert client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/finish/").status_code == 302
    assert client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/finish/").status_code == 409


@pytest.mark.django_db
def test_expired_ceremony(client, muni_a, pki):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    with tenant(muni_a):
        Ceremony.objects.filter(public_id=ceremony_id).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    reader = Client()
    assert reader.get(f"/{muni_a.code}/api/ceremonies/{ceremony_id}").json()["code"] == "expired"
    response = reader.post(f"/{muni_a.code}/api/ceremonies/{ceremony_id}/complete",
                           json.dumps({"audience": f"{muni_a.code}:portal"}), content_type="application/json")
    assert response.status_code == 410 and response.json()["code"] == "expired"


@pytest.mark.django_db
def test_wrong_audience_leaves_the_ceremony_unusable(client, muni_a, pki, taro_record):
    ceremony_id = open_in_browser(client, muni_a.code, "identify")
    response = card_completes(muni_a.code, ceremony_id, pki.taro, audience="evil.example:portal")
    assert response.status_code == 400 and response.json()["code"] == "wrong_audience"
    again = card_completes(muni_a.code, ceremony_id, pki.taro) if False else Client().post(
        f"/{muni_a.code}/api/ceremonies/{ceremony_id}/complete", "{}", content_type="application/json")
    assert again.status_code in (400, 409)
    with tenant(muni_a):
        assert Ceremony.objects.get(public_id=ceremony_id).status == "failed"
    failed = AuditEvent.unscoped.filter(municipality=muni_a, action="ceremony.failed").last()
    assert failed.data["code"] == "wrong_audience"


@pytest.mark.django_db
def test_signature_certificate_used_for_login_is_the_wrong_purpose(client, muni_a, pki):
    ceremony_id = open_in_browser(client, muni_a.code, "login")

    def swap(body):
        body["auth_certificate"] = b64(der(pki.taro.issued.sign_cert))

    response = card_completes(muni_a.code, ceremony_id, pki.taro, mutate=swap)
    assert response.status_code == 400 and response.json()["code"] == "wrong_certificate_purpose"


@pytest.mark.django_db
def test_a_bad_signature_is_refused(client, muni_a, pki):
    ceremony_id = open_in_browser(client, muni_a.code, "login")

    def forge(body):
        body["auth_signature"] = b64(pki.hanako.issued.auth_key.sign(b"something else", __import__(
            "cryptography.hazmat.primitives.asymmetric.padding", fromlist=["PKCS1v15"]).PKCS1v15(), hashes.SHA256()))

    response = card_completes(muni_a.code, ceremony_id, pki.taro, mutate=forge)
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"


@pytest.mark.django_db
def test_an_untrusted_certificate_is_refused(client, muni_a, pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = pki.taro.issued.auth_cert
    forged = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
              .sign(key, hashes.SHA256()))
    from madoguchi.pki.devca import IssuedCard

    impostor = SoftCard(IssuedCard(key, forged, key, forged))
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    response = card_completes(muni_a.code, ceremony_id, impostor)
    assert response.status_code == 403 and response.json()["code"] == "certificate_untrusted"


@pytest.mark.django_db
def test_a_revoked_card_is_refused_after_the_crl_import(client, muni_a, pki, tmp_path):
    from madoguchi.pki import profile
    from tests.ceremonies.conftest import TARO

    card = SoftCard(pki.ca.issue_card(profile.BasicFour(name="失効　一郎", address=TARO.address,
                                                        birth=TARO.birth, sex="1")))
    pki.ca.revoke(card.issued.auth_cert.serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    response = card_completes(muni_a.code, ceremony_id, card)
    assert response.status_code == 403 and response.json()["code"] == "certificate_revoked"
    assert "失効" in response.json()["message"]


@pytest.mark.django_db
def test_presence_never_gives_a_session(client, muni_a, pki, taro_record):
    response = client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "presence"}),
                           content_type="application/json")
    assert response.status_code == 201
    opened = response.json()
    assert card_completes(muni_a.code, opened["id"], pki.taro).status_code == 200
    state = client.get(f"/{muni_a.code}/api/ceremonies/{opened['id']}/state", HTTP_X_POLL_TOKEN=opened["poll_token"])
    assert state.json()["status"] == "completed"
    with tenant(muni_a):
        assert Ceremony.objects.get(public_id=opened["id"]).person is None
    assert not ResidentLink.unscoped.exists()


@pytest.mark.django_db
def test_state_needs_the_openers_token(client, muni_a, pki):
    opened = client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "login"}),
                         content_type="application/json").json()
    url = f"/{muni_a.code}/api/ceremonies/{opened['id']}/state"
    assert client.get(url).status_code == 403
    assert client.get(url, HTTP_X_POLL_TOKEN="x" * 43).status_code == 403
    assert client.get(url, HTTP_X_POLL_TOKEN=opened["poll_token"]).json()["status"] == "open"


@pytest.mark.django_db
def test_sign_ceremony_binds_the_cms_to_the_ceremony(muni_a, pki, taro_record, client):
    from madoguchi.ceremonies import services

    sign_in(client, muni_a.code, "identify", pki.taro)
    with tenant(muni_a):
        ceremony, token = services.open_ceremony("sign", audience=f"{muni_a.code}:portal", requester="窓口市",
                                                 reason="申請への署名", document=b'{"procedure":"test"}')
        other, _ = services.open_ceremony("sign", audience=f"{muni_a.code}:portal", requester="窓口市",
                                          reason="申請への署名", document=b'{"procedure":"test"}')
    # A CMS whose binding names another ceremony is refused.
    reader = Client()
    description = reader.get(f"/{muni_a.code}/api/ceremonies/{other.public_id}").json()
    body = pki.taro.answer(description)
    wrong = reader.post(f"/{muni_a.code}/api/ceremonies/{ceremony.public_id}/complete", json.dumps(body),
                        content_type="application/json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_ceremony"
    # The right one completes and keeps the CMS and the verification record.
    done = card_completes(muni_a.code, other.public_id, pki.taro)
    assert done.status_code == 200, done.json()
    with tenant(muni_a):
        stored = Ceremony.objects.get(pk=other.pk)
    assert bytes(stored.signature)[:1] == b"\x30"
    assert stored.verification["sign"]["verdict"] == "valid"
    assert stored.person is not None


@pytest.mark.django_db
def test_malformed_completions_are_clear_400s(client, muni_a, pki):
    opened = client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "login"}),
                         content_type="application/json").json()
    url = f"/{muni_a.code}/api/ceremonies/{opened['id']}/complete"
    for body in ("not json", json.dumps([1, 2]), json.dumps({"audience": opened["audience"], "auth_certificate": "%%%"}),
                 json.dumps({"audience": opened["audience"], "auth_certificate": "A" * 200000})):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (body[:40], response.content[:200])
        assert response.json()["code"] == "malformed"
    assert client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "sign"}),
                       content_type="application/json").status_code == 400


@pytest.mark.django_db
def test_opening_is_rate_limited_per_address(client, muni_a, pki):
    codes = [client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "login"}),
                         content_type="application/json").status_code for _ in range(22)]
    assert codes[:20] == [201] * 20 and codes[-1] == 429


@pytest.mark.django_db
def test_another_municipalitys_ceremony_is_not_found(client, muni_a, muni_b, pki):
    opened = client.post(f"/{muni_a.code}/api/ceremonies", json.dumps({"purpose": "login"}),
                         content_type="application/json").json()
    assert client.get(f"/{muni_b.code}/api/ceremonies/{opened['id']}").status_code == 404


@pytest.mark.django_db
def test_resident_sign_out(client, muni_a, pki, taro_record):
    sign_in(client, muni_a.code, "identify", pki.taro)
    assert client.post(f"/{muni_a.code}/logout/").status_code == 302
    assert client.get(f"/{muni_a.code}/account/").status_code == 302


@pytest.mark.django_db
def test_resident_sessions_expire_when_idle_and_absolutely(client, muni_a, pki, taro_record):
    from madoguchi.identity import sessions

    sign_in(client, muni_a.code, "identify", pki.taro)
    assert client.get(f"/{muni_a.code}/account/").status_code == 200
    session = client.session
    session[sessions.KEY]["seen"] -= sessions.IDLE_SECONDS + 1
    session.save()
    assert client.get(f"/{muni_a.code}/account/").status_code == 302  # idle too long

    sign_in(client, muni_a.code, "login", pki.taro)
    session = client.session
    session[sessions.KEY]["since"] -= sessions.ABSOLUTE_SECONDS + 1
    session.save()
    assert client.get(f"/{muni_a.code}/account/").status_code == 302  # signed in too long ago


@pytest.mark.django_db
def test_a_session_of_one_municipality_does_not_open_another(client, muni_a, muni_b, pki, taro_record):
    sign_in(client, muni_a.code, "identify", pki.taro)
    assert client.get(f"/{muni_b.code}/account/").status_code == 302


@pytest.mark.django_db
def test_the_openapi_document_is_served(client, muni_a):
    document = client.get(f"/{muni_a.code}/api/openapi.json").json()
    assert any(path.endswith("/complete") for path in document["paths"])
    assert any(path.endswith("/ceremonies") for path in document["paths"])


@pytest.mark.django_db
def test_the_browser_continues_where_it_was_sent_and_only_inside_the_site(client, muni_a, pki, taro_record):
    sign_in(client, muni_a.code, "identify", pki.taro)  # link the card first
    code, top = muni_a.code, f"/{muni_a.code}/"
    cases = [(f"/{code}/notices/", f"/{code}/notices/"), ("https://evil.example/", top), ("/279994/account/", top)]
    for next_url, expected in cases:
        response = client.post(f"/{muni_a.code}/ceremony/start/", {"purpose": "login", "next": next_url})
        ceremony_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
        assert card_completes(muni_a.code, ceremony_id, pki.taro).status_code == 200
        assert client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/finish/")["Location"] == expected


@pytest.mark.django_db
def test_sign_ceremony_over_a_registered_digest(muni_a, pki, taro_record, client, tmp_path):
    """The requester keeps its document and registers only its SHA-256; the CMS verifies
    against the document with openssl afterwards."""
    import hashlib
    import subprocess

    from cryptography.hazmat.primitives import serialization

    from madoguchi.ceremonies import services

    sign_in(client, muni_a.code, "identify", pki.taro)
    document = "契約書：窓口市 × 図書館".encode()
    with tenant(muni_a):
        ceremony, _ = services.open_ceremony("sign", audience=f"{muni_a.code}:portal", requester="図書館",
                                             reason="利用規約への同意", document_sha256=hashlib.sha256(document).hexdigest())
    description = Client().get(f"/{muni_a.code}/api/ceremonies/{ceremony.public_id}").json()
    assert "content" not in description["document"] and description["document"]["size"] is None
    assert card_completes(muni_a.code, ceremony.public_id, pki.taro).status_code == 200
    with tenant(muni_a):
        signature = bytes(Ceremony.objects.get(pk=ceremony.pk).signature)
    (tmp_path / "doc").write_bytes(document)
    (tmp_path / "doc.p7s").write_bytes(signature)
    (tmp_path / "ca.pem").write_bytes(pki.ca.certificate("sign").public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "doc.p7s"),
                             "-content", str(tmp_path / "doc"), "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any",
                             "-out", "/dev/null"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    from madoguchi.ceremonies.errors import CeremonyError

    with tenant(muni_a), pytest.raises(CeremonyError) as refused:
        services.open_ceremony("sign", audience="x", requester="x", reason="x", document_sha256="zz")
    assert (refused.value.code, refused.value.status) == ("malformed", 400)
    assert "document_sha256" in refused.value.message_en


def test_lone_surrogates_in_ceremony_bodies_are_named_not_a_server_error(client, muni_a):
    """`"\ud800"` as a JSON escape in any body of the ceremony API: 400 `malformed` whose
    English message names the field (JSON pointer), in values and in keys."""
    base = f"/{muni_a.code}/api/ceremonies"
    opened = client.post(base, '{"purpose": "login"}', content_type="application/json")
    assert opened.status_code == 201, opened.content
    for path, body, pointer in [
        (base, '{"purpose": "login\\ud800"}', "/purpose"),
        (f"{base}/{opened.json()['id']}/complete", '{"audience": "x\\udc00", "cms": "AAAA"}', "/audience"),
        (f"{base}/{opened.json()['id']}/complete", '{"audience": "x", "\\ud800": "AAAA"}', "/\ufffd"),
    ]:
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code, response.content[:300])
        answer = response.json()
        assert answer["code"] == "malformed" and f"lone surrogate (unpaired UTF-16 escape) at {pointer}" in \
            answer["message_en"], answer
