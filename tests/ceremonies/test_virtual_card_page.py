"""The demo's "use a virtual card on this computer": the same card client, PINs typed in the page."""

import pytest

from madoguchi.identity.models import ResidentLink
from tests.ceremonies.test_flows import open_in_browser


def use_card(client, code, ceremony_id, card, pin, password=""):
    response = client.post(f"/{code}/ceremony/{ceremony_id}/virtual-card/",
                           {"card": card, "pin": pin, "password": password}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_identify_with_the_virtual_card_signs_in_and_links(client, muni_a, taro_record, virtual_card):
    ceremony_id = open_in_browser(client, muni_a.code, "identify")
    page = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    assert virtual_card in page
    use_card(client, muni_a.code, ceremony_id, virtual_card, "1234", "mado2026")  # the card upper-cases
    status = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/status/")
    assert status["HX-Redirect"].endswith("/finish/")
    assert client.get(status["HX-Redirect"]).status_code == 302
    assert ResidentLink.unscoped.get(municipality=muni_a).record == taro_record


@pytest.mark.django_db
def test_wrong_pins_tell_the_tries_left_then_send_the_resident_to_city_hall(client, muni_a, virtual_card):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    assert "あと2回" in use_card(client, muni_a.code, ceremony_id, virtual_card, "9999")
    assert "あと1回" in use_card(client, muni_a.code, ceremony_id, virtual_card, "9999")
    blocked = use_card(client, muni_a.code, ceremony_id, virtual_card, "9999")
    assert "ロックされています" in blocked and "窓口" in blocked
    # Blocked means blocked: the right PIN no longer works either.
    assert "ロックされています" in use_card(client, muni_a.code, ceremony_id, virtual_card, "1234")


@pytest.mark.django_db
def test_badly_formed_pin_and_unknown_card(client, muni_a, virtual_card):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    assert "形式が正しくありません" in use_card(client, muni_a.code, ceremony_id, virtual_card, "12ab")
    assert "デモ用カードを選んでください" in use_card(client, muni_a.code, ceremony_id, "../../etc", "1234")


@pytest.mark.django_db
def test_not_offered_outside_the_demo(client, muni_a, virtual_card, settings):
    settings.DEMO_ALLOWED = False
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    assert virtual_card not in client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    response = client.post(f"/{muni_a.code}/ceremony/{ceremony_id}/virtual-card/", {"card": virtual_card, "pin": "1234"})
    assert response.status_code == 403
