"""`identify` proves that both keys are on one card (issue 13, finding 3): each key signs
bytes naming both certificates, and the server refuses — and lists — pairs of certificates
that cannot be one card's (docs/ceremony.md, "One card")."""

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.identity.models import CardCredential, Person, RefusedCertificate, ResidentLink
from madoguchi.pki import profile
from madoguchi.pki.devca import IssuedCard
from madoguchi.protocol.ceremony import DOMAIN_PREFIX, binding_der
from madoguchi.residents.models import ResidentRecord
from tests.ceremonies.conftest import HANAKO, TARO
from tests.ceremonies.softcard import SoftCard, b64, der, identify_answer, unb64
from tests.ceremonies.test_flows import card_completes, open_in_browser, sign_in


def complete_with(code, ceremony_id, answer) -> tuple[int, dict]:
    """The card client's side with a hand-built identify answer."""
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}").json()
    body = {"audience": description["audience"], **answer(description)}
    response = reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete", json.dumps(body),
                           content_type="application/json")
    return response.status_code, response.json()


def mixture(auth_card: IssuedCard, sign_card: IssuedCard):
    return lambda description: identify_answer(description, auth_card, sign_card)


def sha256(cert) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


@pytest.fixture
def hanako_record(muni_a):
    return ResidentRecord.unscoped.create(municipality=muni_a, resident_number="1002", name="見本花子",
                                          birth_date=HANAKO.birth, sex="2", address=HANAKO.address)


@pytest.mark.django_db
def test_two_cards_mixture_is_refused_and_card_a_cannot_sign_in_as_b(muni_a, pki, taro_record, hanako_record):
    # 花子 has an account; 太郎 holds his own card and, for a moment, hers with its password.
    sign_in(Client(), muni_a.code, "identify", pki.hanako)
    hanako = Person.objects.get()
    credentials_before = set(CardCredential.objects.values_list("sha256", flat=True))

    browser = Client()
    ceremony_id = open_in_browser(browser, muni_a.code, "identify")
    status, answer = complete_with(muni_a.code, ceremony_id, mixture(pki.taro.issued, pki.hanako.issued))
    assert (status, answer["code"]) == (403, "card_mismatch")
    # The browser that opened it says why, and signs nobody in.
    page = browser.get(f"/{muni_a.code}/ceremony/{ceremony_id}/status/")
    assert "同じカードのものと確認できませんでした" in page.content.decode() and "HX-Redirect" not in page

    # Nothing linked: 太郎's certificate belongs to nobody, no Person or resident link was added.
    assert set(CardCredential.objects.values_list("sha256", flat=True)) == credentials_before
    assert not CardCredential.objects.filter(sha256=sha256(pki.taro.issued.auth_cert)).exists()
    assert list(Person.objects.all()) == [hanako]
    assert ResidentLink.unscoped.filter(municipality=muni_a).count() == 1
    # Both certificates are listed, with the reason (the two cards end on different days).
    refused = {r.sha256: r for r in RefusedCertificate.objects.all()}
    assert set(refused) == {sha256(pki.taro.issued.auth_cert), sha256(pki.hanako.issued.sign_cert)}
    assert {r.reason for r in refused.values()} == {"not_after"}

    event = AuditEvent.unscoped.get(municipality=muni_a, action="identity.card_mixture_refused")
    assert event.data["reason"] == "not_after" and event.data["already_linked"] == 1
    written = json.dumps(event.data, ensure_ascii=False)
    for personal in (TARO.name, HANAKO.name, "太郎", "花子", HANAKO.address, HANAKO.birth.isoformat()):
        assert personal not in written
    failed = AuditEvent.unscoped.filter(municipality=muni_a, action="ceremony.failed").last()
    assert failed.data == {"purpose": "identify", "code": "card_mismatch", "card_path": "card-client"}

    # Card A then signs in as nobody — not as 花子, and not even "unknown card, identify first".
    login_browser = Client()
    login = open_in_browser(login_browser, muni_a.code, "login")
    refused_login = card_completes(muni_a.code, login, pki.taro)
    assert refused_login.status_code == 403 and refused_login.json()["code"] == "card_refused"
    page = login_browser.get(f"/{muni_a.code}/ceremony/{login}/status/")
    assert "利用を停止しています" in page.content.decode() and "HX-Redirect" not in page
    assert login_browser.get(f"/{muni_a.code}/ceremony/{login}/finish/").status_code == 403
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="resident.signed_in").count() == 1  # 花子's own
    # Nor can 太郎 clear the listing with an honest identify of his own card.
    again = open_in_browser(Client(), muni_a.code, "identify")
    honest = card_completes(muni_a.code, again, pki.taro)
    assert honest.status_code == 403 and honest.json()["code"] == "card_refused"
    assert not CardCredential.objects.filter(sha256=sha256(pki.taro.issued.auth_cert)).exists()


@pytest.mark.django_db
def test_a_credential_linked_before_the_refusal_signs_in_no_more(client, muni_a, pki, taro_record):
    """A certificate some earlier identify linked is listed too: the link no longer signs in."""
    sign_in(client, muni_a.code, "identify", pki.taro)
    ceremony_id = open_in_browser(Client(), muni_a.code, "identify")
    status, answer = complete_with(muni_a.code, ceremony_id, mixture(pki.taro.issued, pki.hanako.issued))
    assert (status, answer["code"]) == (403, "card_mismatch")
    login = open_in_browser(Client(), muni_a.code, "login")
    response = card_completes(muni_a.code, login, pki.taro)
    assert response.status_code == 403 and response.json()["code"] == "card_refused"


@pytest.mark.django_db
def test_two_cards_ending_on_the_same_day_but_issued_apart_are_refused(muni_a, pki):
    """Twins: same birthday, so the same last day; their cards were issued an hour apart."""
    jiro = profile.BasicFour(name="窓口　次郎", address=TARO.address, birth=TARO.birth, sex="1")
    earlier = pki.ca.issue_card(jiro, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    ceremony_id = open_in_browser(Client(), muni_a.code, "identify")
    status, answer = complete_with(muni_a.code, ceremony_id, mixture(earlier, pki.taro.issued))
    assert (status, answer["code"]) == (403, "card_mismatch")
    assert set(RefusedCertificate.objects.values_list("reason", flat=True)) == {"not_before"}
    assert not CardCredential.objects.exists() and not Person.objects.exists()


@pytest.mark.django_db
def test_the_old_single_binding_answer_is_refused(muni_a, pki, taro_record):
    """Version 1: both keys signing the ceremony binding alone, naming no certificate."""

    def old(description):
        tbs = DOMAIN_PREFIX + binding_der(description["id"], unb64(description["challenge"]),
                                          description["audience"], "identify")
        card = pki.taro.issued
        return {"auth_certificate": b64(der(card.auth_cert)),
                "auth_signature": b64(card.auth_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())),
                "sign_certificate": b64(der(card.sign_cert)),
                "sign_signature": b64(card.sign_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256()))}

    ceremony_id = open_in_browser(Client(), muni_a.code, "identify")
    status, answer = complete_with(muni_a.code, ceremony_id, old)
    assert (status, answer["code"]) == (400, "bad_signature")
    assert not CardCredential.objects.exists() and not RefusedCertificate.objects.exists()


@pytest.mark.django_db
def test_the_description_of_identify_carries_no_bytes_to_sign(muni_a, pki):
    ceremony_id = open_in_browser(Client(), muni_a.code, "identify")
    description = Client().get(f"/{muni_a.code}/api/ceremonies/{ceremony_id}").json()
    assert "to_be_signed" not in description


@pytest.mark.django_db
def test_a_renewed_card_still_joins_the_person(client, muni_a, pki, taro_record):
    first = sign_in(client, muni_a.code, "identify", pki.taro)
    renewed = SoftCard(pki.ca.issue_card(TARO))
    sign_in(Client(), muni_a.code, "identify", renewed)
    assert first and Person.objects.count() == 1
    assert CardCredential.objects.filter(person=Person.objects.get()).count() == 4
    assert not RefusedCertificate.objects.exists()


def _reissued_signature_certificate(pki, card: IssuedCard, facts: profile.BasicFour) -> IssuedCard:
    """The signature certificate a window issues after a move, keeping the card's
    authentication certificate (JPKI.md §5): a later notBefore, capped by its end."""
    sign = pki.ca.issue_sign(card.sign_key.public_key(), facts, not_after=card.auth_cert.not_valid_after_utc)
    return IssuedCard(card.auth_key, card.auth_cert, card.sign_key, sign)


@pytest.mark.django_db
def test_a_signature_certificate_reissued_after_a_move_joins_the_known_person(client, muni_a, pki, taro_record):
    older = pki.ca.issue_card(TARO, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2))
    sign_in(client, muni_a.code, "identify", SoftCard(older))
    moved = profile.BasicFour(name=TARO.name, address="東京都窓口市新町三丁目3番3号", birth=TARO.birth, sex="1")
    reissued = _reissued_signature_certificate(pki, older, moved)
    sign_in(Client(), muni_a.code, "identify", SoftCard(reissued))
    person = Person.objects.get()
    assert person.verified_address == moved.address
    assert CardCredential.objects.filter(person=person).count() == 3


@pytest.mark.django_db
def test_a_reissued_signature_certificate_with_an_unknown_card_is_refused(muni_a, pki, taro_record):
    """Nothing ties the two certificates together but the known Person: without one, refused."""
    older = pki.ca.issue_card(TARO, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2))
    reissued = _reissued_signature_certificate(pki, older, TARO)
    ceremony_id = open_in_browser(Client(), muni_a.code, "identify")
    status, answer = complete_with(muni_a.code, ceremony_id,
                                   lambda d: identify_answer(d, reissued, reissued))
    assert (status, answer["code"]) == (403, "card_mismatch")
    assert not CardCredential.objects.exists()
