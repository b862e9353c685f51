"""The My Number Card as the 印鑑登録証 (issue #21 part 4): the resident's choice (bound to the
Person, so a renewed card keeps it; audited; revocable by the resident and by staff), and the
counter's check of the card's certificate read without a PIN, refused with the reason."""

import base64
import re

import pytest
from cryptography import x509
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.citizencard import services
from madoguchi.citizencard.models import SealCard
from madoguchi.identity.models import ResidentLink
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.services import register_seal
from tests.ceremonies.conftest import TARO, dev_pki, pki, taro_record  # noqa: F401  (fixtures)
from tests.citizencard.test_terminals import der, link_card, person_with_card, signed_in
from tests.conftest import sign_in


def b64(cert) -> str:
    return base64.b64encode(der(cert)).decode()


@pytest.fixture
def taro(muni_a, admin_a, pki, taro_record):
    with tenant(muni_a):
        services.set_enabled(admin_a[0], "seal", True)
        person = person_with_card(pki.taro.issued)
        ResidentLink.objects.create(person=person, record=taro_record, method="automatic")
    register_seal(muni_a, "1001", registration_number="S-0042", impression_png=b"\x89PNG", registered_on=taro_record
                  .birth_date)
    return person


def test_choose_check_and_revoke_by_resident_and_staff(muni_a, admin_a, taro, pki):
    cert = b64(pki.taro.issued.auth_cert)
    with tenant(muni_a):
        assert services.check_seal_card(admin_a[0], cert).code == "no_choice"
        services.choose_seal_card(taro)
        with pytest.raises(services.CitizenCardError):
            services.choose_seal_card(taro)  # once
        answer = services.check_seal_card(admin_a[0], cert)
        assert answer.ok and answer.registration_number == "S-0042"
        services.revoke_seal_card(taro)  # by the resident
        assert services.check_seal_card(admin_a[0], cert).code == "choice_revoked"
        services.choose_seal_card(taro)
        with pytest.raises(services.CitizenCardError):
            services.revoke_seal_card(taro, user=admin_a[0], reason="")  # staff give a reason
        services.revoke_seal_card(taro, user=admin_a[0], reason="カード紛失の届出")
        assert services.check_seal_card(admin_a[0], cert).code == "choice_revoked"
        assert services.check_seal_card(admin_a[0], "not a certificate").code == "bad_certificate"
        assert services.check_seal_card(admin_a[0], b64(pki.hanako.issued.auth_cert)).code == "unknown_card"
        assert AuditEvent.objects.filter(action="citizencard.seal_card_chosen").count() == 2
        assert AuditEvent.objects.filter(action="citizencard.seal_card_revoked").count() == 2
        assert AuditEvent.objects.filter(action="citizencard.seal_card_checked").count() == 6
        assert SealCard.objects.filter(revoked_at__isnull=True).count() == 0
        from madoguchi.identity.models import CardCredential
        assert not CardCredential.objects.filter(last_used_at__isnull=False).exists()  # presence is no sign-in


def test_no_seal_registration_and_renewal_keeps_the_choice(muni_a, admin_a, taro, pki, dev_pki):
    with tenant(muni_a):
        services.choose_seal_card(taro)
        # A renewed card is linked to the same Person: the choice holds for the new card.
        renewed = pki.ca.issue_card(TARO)
        link_card(taro, renewed)
        assert services.check_seal_card(admin_a[0], b64(renewed.auth_cert)).ok
    register_seal(muni_a, "1001", registration_number="S-0042", impression_png=b"\x89PNG",
                  registered_on=taro.verified_birth_date)
    from madoguchi.residents.models import SealRegistration
    with tenant(muni_a):
        SealRegistration.objects.update(abolished_on=taro.verified_birth_date)
        assert services.check_seal_card(admin_a[0], b64(pki.taro.issued.auth_cert)).code == "no_seal"


def test_revoked_certificate_is_refused_with_the_reason(muni_a, admin_a, taro, pki):
    card = pki.ca.issue_card(TARO)
    with tenant(muni_a):
        link_card(taro, card)
        services.choose_seal_card(taro)
    pki.ca.revoke(card.auth_cert.serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    with tenant(muni_a):
        answer = services.check_seal_card(admin_a[0], b64(card.auth_cert))
    assert answer.code == "certificate" and "keyCompromise" in answer.message


def test_pages_resident_and_staff_with_csrf_and_isolation(muni_a, admin_a, muni_b, admin_b, taro, pki, viewer_a):
    resident = Client(enforce_csrf_checks=True)
    signed_in(resident, muni_a, taro)
    url = f"/{muni_a.code}/card-services/seal/"
    page = resident.get(url)
    assert page.status_code == 200 and "印鑑登録証として使う" in page.content.decode()
    assert resident.post(url, {"action": "choose"}).status_code == 403  # no CSRF token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert resident.post(url, {"action": "choose", "csrfmiddlewaretoken": token}).status_code == 302
    again = resident.post(url, {"action": "choose", "csrfmiddlewaretoken": token})
    assert again.status_code == 400 and "すでに" in again.content.decode()

    staff = Client()
    assert sign_in(staff, muni_a, *viewer_a).status_code == 302  # any staff member checks
    check = f"/{muni_a.code}/staff/card-services/seal/"
    shown = staff.get(check)  # the card is read by the counter's agent: the page may call it, nothing else
    csp = dict(d.strip().split(" ", 1) for d in shown["Content-Security-Policy"].split(";"))
    assert csp["connect-src"] == "'self' http://127.0.0.1:8765"
    assert 'data-agent="http://127.0.0.1:8765"' in shown.content.decode()
    assert staff.post(check, {"certificate": ""}).status_code == 400
    bad = staff.post(check, {"certificate": "@@@"})
    assert bad.status_code == 400 and "読み取れませんでした" in bad.content.decode()
    good = staff.post(check, {"certificate": b64(pki.taro.issued.auth_cert)})
    assert good.status_code == 200 and "S-0042" in good.content.decode()
    with tenant(muni_a):
        choice = SealCard.objects.get()
    revoke = f"/{muni_a.code}/staff/card-services/seal/{choice.pk}/revoke/"
    assert staff.post(revoke, {"reason": "紛失"}).status_code == 403  # administrators revoke
    admin = Client()
    assert sign_in(admin, muni_a, *admin_a).status_code == 302
    assert admin.post(revoke, {"reason": "紛失"}).status_code == 302
    refused = staff.post(check, {"certificate": b64(pki.taro.issued.auth_cert)})
    assert refused.status_code == 409 and "取り消されています" in refused.content.decode()

    other = Client()
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert other.post(f"/{muni_b.code}/staff/card-services/seal/{choice.pk}/revoke/", {"reason": "x"}).status_code == 404
    with tenant(muni_b):
        answer = services.check_seal_card(admin_b[0], b64(pki.taro.issued.auth_cert))
    assert not answer.ok  # another municipality: no choice there
    resident.post(url, {"action": "revoke", "csrfmiddlewaretoken": token})


def test_signed_counter_api(client, muni_a, admin_a, taro, pki):
    import json

    from madoguchi.terminal import signing
    from tests.citizencard.test_terminals import Gate

    keys = {}
    with tenant(muni_a):
        services.choose_seal_card(taro)
        for service in ("seal", "tickets"):
            keys[service] = signing.new_key()
            keys[service + "_terminal"] = services.register_terminal(
                admin_a[0], name=f"窓口 {service}", place="市民課", service_key=service,
                public_key=signing.public_pem(keys[service]))
    counter = Gate(client, muni_a.code, keys["seal_terminal"].public_id, keys["seal"])
    body = json.dumps({"certificate": b64(pki.taro.issued.auth_cert)}).encode()
    answer = counter.call("POST", "seal", body)
    assert answer.status_code == 200 and answer.json()["ok"] and answer.json()["registration_number"] == "S-0042"
    assert counter.call("POST", "seal", b"{}").status_code == 400
    assert counter.call("POST", "seal", body, key=signing.new_key()).status_code == 401  # forged
    refused = counter.call("POST", "seal", json.dumps({"certificate": b64(pki.hanako.issued.auth_cert)}).encode())
    assert refused.json() == {"ok": False, "code": "unknown_card", "registration_number": "",
                              "message": refused.json()["message"]}
    gate = Gate(client, muni_a.code, keys["tickets_terminal"].public_id, keys["tickets"])
    assert gate.call("POST", "seal", body).status_code == 403  # a ticket gate may not ask
    with tenant(muni_a):
        checks = AuditEvent.objects.filter(action="citizencard.seal_card_checked")
        assert checks.count() == 2
