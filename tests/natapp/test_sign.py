"""Signing through the national app: the document's SHA-256 registered as a sign
transaction, the resident's approval, the JWE result decrypted, the signature and the
certificate verified by madoguchi's own PKI, the application submitted with it exactly as
with a card client's CMS — and every bad result refused, nothing submitted."""

import shutil
import subprocess
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.card import virtual
from madoguchi.card.constants import TOKEN_ANDROID
from madoguchi.ceremonies.models import Ceremony
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.services import install_catalog

from .conftest import TARO, approve, local, through_app

FORM = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
        "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "self",
        "items": ["relationship"], "copies": "1", "purpose": "employment", "delivery": "registered"}


@pytest.fixture(autouse=True)
def app_settings(settings, tmp_path):
    import base64

    settings.MYNUMBER_KEYS = "test1:" + base64.b64encode(bytes(range(32))).decode()
    settings.MEDIA_ROOT = tmp_path / "files"


def identified(client, muni, card):
    install_catalog(muni)
    _, back = through_app(client, muni.code, "identify", card)
    assert back["Location"].endswith("/finish/"), back
    client.get(back["Location"])


def open_sign(client, code) -> str:
    made = client.post(f"/{code}/procedures/juminhyo-copy/apply/", FORM)
    assert made.status_code == 302, made.content.decode()[:2000]
    opened = client.post(made["Location"])
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"]
    return opened["Location"].rstrip("/").rsplit("/", 1)[1]


def application():
    return Application.unscoped.get()


@pytest.mark.django_db
def test_a_signed_application_through_the_app(client, muni_a, pki, natapp, virtual_card, taro_record, tmp_path):
    identified(client, muni_a, virtual_card)
    code = muni_a.code
    ceremony_id = open_sign(client, code)
    page = client.get(f"/{code}/ceremony/{ceremony_id}/").content.decode()
    assert "スマートフォンで読み取る" in page
    started = client.post(f"/{code}/natapp/start/{ceremony_id}/")["Location"]
    asked = parse_qs(urlsplit(started).query)
    assert asked["scope"] == ["openid sign"] and asked["acr_values"] == ["aal3 crl"]
    tx = asked["sign_transaction_id"][0]
    registered = natapp.transactions[tx]["digest"]
    with tenant(muni_a):
        draft = Application.objects.get()
    assert registered[-32:].hex() == draft.document_sha256 and len(registered) == 51  # its DigestInfo
    back = approve(started, virtual_card, password="MADO2026")
    finish = client.get(local(back))
    assert finish["Location"] == f"/{code}/ceremony/{ceremony_id}/finish/", finish
    signed = client.get(finish["Location"])
    receipt = client.get(signed["Location"])
    assert receipt.status_code == 302 and "/review/" not in receipt["Location"], receipt
    submitted = application()
    assert submitted.status == "payment_required"
    record = submitted.verification["sign"]
    assert record["verdict"] == "valid" and record["content_sha256"] == submitted.document_sha256
    assert record["revocation"] is not None  # checked against the CRL
    ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
    assert (ceremony.card_path, ceremony.token_type) == ("national-app", "card")
    assert bytes(submitted.signature) == bytes(ceremony.signature)
    # The stored signature is a standard detached CMS: OpenSSL verifies it over the document.
    (tmp_path / "doc").write_bytes(bytes(submitted.document))
    (tmp_path / "sig.p7s").write_bytes(bytes(submitted.signature))
    pki.ca.export(tmp_path / "ca")
    verified = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
                               "-content", tmp_path / "doc", "-CAfile", tmp_path / "ca" / "sign-ca.pem",
                               "-purpose", "any", "-out", "/dev/null"], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def refused_sign(client, code, ceremony_id, back, failure_code):
    answer = client.get(local(back))
    assert answer["Location"] == f"/{code}/ceremony/{ceremony_id}/", answer
    ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
    assert (ceremony.status, ceremony.failure_code) == ("failed", failure_code)
    assert ceremony.signature is None
    assert application().status == "draft"  # nothing submitted
    assert "もう一度はじめる" in client.get(answer["Location"]).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("fault,failure_code", [
    ({"sign_wrong_digest": True}, "bad_signature"),
    ({"sign_with_auth_cert": "1234"}, "wrong_certificate_purpose"),
])
def test_a_bad_sign_result_is_refused(client, muni_a, natapp, virtual_card, taro_record, fault, failure_code):
    identified(client, muni_a, virtual_card)
    ceremony_id = open_sign(client, muni_a.code)
    natapp.faults.update(fault)
    started = client.post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")["Location"]
    refused_sign(client, muni_a.code, ceremony_id, approve(started, virtual_card, password="MADO2026"), failure_code)


def fresh_card(pki, token=None) -> str:
    """A virtual card of 窓口 太郎 of its own (revoking it touches no other test's card)."""
    name = f"own-{uuid.uuid4().hex[:6]}"
    virtual.issue(pki.data_dir / "cards" / name, pki.ca, virtual.Holder(name=TARO.name, address=TARO.address,
                                                                         birth=TARO.birth, sex=TARO.sex),
                  pin="1234", password="MADO2026", text_pin="5678", **({"token": token} if token else {}))
    return name


@pytest.mark.django_db
def test_a_revoked_signature_certificate_is_refused(client, muni_a, pki, natapp, taro_record):
    import json

    from cryptography import x509

    card = fresh_card(pki)
    try:
        identified(client, muni_a, card)
        ceremony_id = open_sign(client, muni_a.code)
        state = json.loads((pki.data_dir / "cards" / card / "card.json").read_text())
        sign_cert = x509.load_der_x509_certificate(__import__("base64").b64decode(state["jpki"]["sign_cert"]))
        pki.ca.revoke(sign_cert.serial_number, x509.ReasonFlags.affiliation_changed)  # a 転出届 processed
        pki.publish_crls()
        started = client.post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")["Location"]
        refused_sign(client, muni_a.code, ceremony_id, approve(started, card, password="MADO2026"),
                     "certificate_revoked")
    finally:
        shutil.rmtree(pki.data_dir / "cards" / card, ignore_errors=True)


@pytest.mark.django_db
def test_a_transaction_of_another_resident_is_refused(client, muni_a, natapp, virtual_card, taro_record):
    """The authorization request edited to carry the sign transaction madoguchi registered
    for another resident's ceremony: the ID token names it, not ours — refused."""
    identified(client, muni_a, virtual_card)
    code = muni_a.code
    ceremony_id = open_sign(client, code)
    started = client.post(f"/{code}/natapp/start/{ceremony_id}/")["Location"]
    # another resident's sign transaction, registered by madoguchi for its own ceremony
    theirs = natapp.transactions.copy()
    other = Client()
    identified_other = open_other_sign(other, code, natapp)
    foreign = next(tx for tx in natapp.transactions if tx not in theirs)
    parts = urlsplit(started)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["sign_transaction_id"] = foreign
    edited = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
    refused_sign(client, code, ceremony_id, approve(edited, virtual_card, password="MADO2026"), "provider_refused")
    assert identified_other


def open_other_sign(other, code, natapp):
    """A second browser's sign ceremony over its own document (only the transaction matters)."""
    from madoguchi.ceremonies import callers
    from madoguchi.municipalities.models import Municipality

    muni = Municipality.objects.get(code=code)
    opened = callers.open("sign", municipality=muni, reason="他の人の申請", document=b"another resident's document")
    session = other.session
    callers_tokens = {opened.id: [opened.poll_token, f"/{code}/", ""]}
    session[callers.SESSION_TOKENS] = callers_tokens
    session.save()
    assert other.post(f"/{code}/natapp/start/{opened.id}/").status_code == 302
    return opened.id


@pytest.mark.django_db
def test_smartphone_certificates_are_recognised_and_a_procedure_can_require_the_card(
        client, muni_a, pki, natapp, taro_record):
    name = fresh_card(pki, TOKEN_ANDROID)
    directory = pki.data_dir / "cards" / name
    try:
        ceremony_id, back = through_app(client, muni_a.code, "identify", name)
        assert back["Location"].endswith("/finish/")
        ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
        assert ceremony.token_type == "smartphone" and ceremony.verification["amr"] == ["hwk", "pin"]
        client.get(back["Location"])
        # A ceremony that requires the physical card refuses the phone's certificate.
        from madoguchi.ceremonies import callers

        opened = callers.open("login", municipality=muni_a, reason="カード必須", require_card=True)
        session = client.session
        session[callers.SESSION_TOKENS] = {opened.id: [opened.poll_token, f"/{muni_a.code}/", ""]}
        session.save()
        _, back = through_app(client, muni_a.code, "login", name, ceremony_id=opened.id)
        assert Ceremony.unscoped.get(public_id=opened.id).failure_code == "card_required"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.django_db
def test_a_procedure_that_requires_the_card_refuses_a_phones_signature(client, muni_a, pki, natapp, taro_record):
    name = fresh_card(pki, TOKEN_ANDROID)
    try:
        identified(client, muni_a, name)
        from madoguchi.procedures import services as procedures

        definition = procedures.read_definition_file(procedures.catalog_dir() / "juminhyo-copy.json")
        procedures.install(muni_a, {**definition, "require_card": True})  # a new version requiring the card
        ceremony_id = open_sign(client, muni_a.code)
        started = client.post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")["Location"]
        refused_sign(client, muni_a.code, ceremony_id, approve(started, name, password="MADO2026"), "card_required")
    finally:
        shutil.rmtree(pki.data_dir / "cards" / name, ignore_errors=True)
