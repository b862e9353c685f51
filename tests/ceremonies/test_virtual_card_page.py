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
    page = use_card(client, muni_a.code, ceremony_id, virtual_card, "12ab")
    assert "利用者証明用電子証明書の暗証番号は、数字4桁で入力してください。" in page
    assert "must be" not in page and "PIN" not in page  # one language: no English inside the Japanese message
    assert "デモ用カードを選んでください" in use_card(client, muni_a.code, ceremony_id, "../../etc", "1234")


@pytest.mark.django_db
def test_not_offered_outside_the_demo(client, muni_a, virtual_card, settings):
    settings.DEMO_ALLOWED = False
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    assert virtual_card not in client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    response = client.post(f"/{muni_a.code}/ceremony/{ceremony_id}/virtual-card/", {"card": virtual_card, "pin": "1234"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_wrong_signature_password_names_the_password(client, muni_a, taro_record, virtual_card):
    ceremony_id = open_in_browser(client, muni_a.code, "identify")
    page = use_card(client, muni_a.code, ceremony_id, virtual_card, "1234", "wrong99")
    assert "署名用電子証明書のパスワードが違います（あと4回" in page and "暗証番号が違います" not in page
    page = use_card(client, muni_a.code, ceremony_id, virtual_card, "1234", "abc")
    assert "署名用電子証明書のパスワードは、英数字6〜16桁で入力してください。" in page
    page = use_card(client, muni_a.code, ceremony_id, virtual_card, "9999", "mado2026")
    assert "利用者証明用電子証明書の暗証番号が違います" in page


@pytest.mark.django_db
def test_the_card_step_names_its_purpose_and_keeps_the_developer_command_in_the_demo_panel(client, muni_a, virtual_card):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    page = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    assert "窓口市 オンライン窓口にログインします" in page
    assert "madoguchi-card://ceremony?url=http%3A%2F%2Ftestserver%2F" in page  # the phone's app link
    assert page.index("madoguchi card ceremony") > page.index('class="panel demo-card"')


@pytest.mark.django_db
def test_after_a_failure_the_page_shows_the_failure_and_one_action(client, muni_a, virtual_card):
    import datetime as dt

    from django.utils import timezone

    from madoguchi.ceremonies.models import Ceremony
    from madoguchi.municipalities.tenancy import tenant

    code = muni_a.code
    response = client.post(f"/{code}/ceremony/start/", {"purpose": "login", "next": f"/{code}/applications/"})
    ceremony_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    with tenant(muni_a):  # five minutes pass
        Ceremony.objects.filter(public_id=ceremony_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(f"/{code}/ceremony/{ceremony_id}/status/")["HX-Refresh"] == "true"  # the QR code goes away
    page = client.get(f"/{code}/ceremony/{ceremony_id}/").content.decode()
    assert "カードの読み取りができませんでした" in page and "有効時間（5分）を過ぎました。" in page
    assert "<img" not in page and "カード読み取りアプリを開く" not in page and virtual_card not in page
    assert "hx-get" not in page and page.count('class="button button--primary"') == 1
    assert f'href="/{code}/login/?next=%2F{code}%2Fapplications%2F"' in page  # sign in again, then continue there
