"""Everything the provider (or someone in between) can get wrong is refused with the
ceremony's error codes; nothing is linked, no session is made."""

import pytest
from django.test import Client

from madoguchi.ceremonies.models import Ceremony
from madoguchi.identity.models import Person, SubjectCredential

from .conftest import approve, local, through_app
from tests.ceremonies.test_flows import open_in_browser


def refused(client, code, ceremony_id, back, failure_code):
    assert back.status_code == 302 and back["Location"] == f"/{code}/ceremony/{ceremony_id}/", back
    ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
    assert (ceremony.status, ceremony.failure_code) == ("failed", failure_code)
    assert ceremony.person is None
    page = client.get(back["Location"]).content.decode()
    assert "もう一度はじめる" in page
    assert not SubjectCredential.objects.exists() and not Person.objects.exists()
    assert client.get(f"/{code}/account/").status_code == 302  # not signed in


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [
    {"id_token_iss": "https://evil.example/api/realms/main"},
    {"id_token_aud": "RP99999999"},
    {"id_token_nonce": "another-nonce"},
    {"id_token_alg": "RS256"},
    {"id_token_expired": True},
    {"id_token_unknown_key": True},
    {"code_expired": True},
    {"userinfo_sub": "somebody-else"},
])
def test_a_bad_answer_is_refused(client, muni_a, natapp, virtual_card, taro_record, fault):
    natapp.faults.update(fault)
    ceremony_id, back = through_app(client, muni_a.code, "identify", virtual_card)
    refused(client, muni_a.code, ceremony_id, back, "provider_refused")


@pytest.mark.django_db
def test_a_jwks_that_fails_to_load(client, muni_a, natapp, virtual_card, taro_record):
    natapp.faults["jwks_down"] = True
    ceremony_id, back = through_app(client, muni_a.code, "identify", virtual_card)
    refused(client, muni_a.code, ceremony_id, back, "provider_unavailable")


@pytest.mark.django_db
def test_a_replayed_code_is_refused(client, muni_a, natapp, virtual_card, taro_record):
    """The code of a finished sign-in brought back to a new authorization request of the
    same browser: the provider refuses it as used (and revokes its tokens)."""
    code = muni_a.code
    first = open_in_browser(client, code, "login")
    back = approve(client.post(f"/{code}/natapp/start/{first}/")["Location"], virtual_card)
    client.get(local(back))  # used (login of an unknown subject: refused, but the code is spent)
    second = open_in_browser(client, code, "identify")
    started = client.post(f"/{code}/natapp/start/{second}/")["Location"]
    state = dict(p.split("=", 1) for p in started.split("?", 1)[1].split("&"))["state"]
    old_code = back.split("code=", 1)[1].split("&", 1)[0]
    answer = client.get(f"/{code}/natapp/callback/", {"code": old_code, "state": state, "iss": natapp.issuer})
    refused(client, code, second, answer, "provider_refused")


@pytest.mark.django_db
def test_a_state_this_browser_did_not_send_is_refused(client, muni_a, natapp, virtual_card, taro_record):
    code = muni_a.code
    ceremony_id = open_in_browser(client, code, "identify")
    back = approve(client.post(f"/{code}/natapp/start/{ceremony_id}/")["Location"], virtual_card)
    stranger = Client()  # another browser (an attacker's link): no such state in its session
    answer = stranger.get(local(back))
    assert answer.status_code == 400 and "malformed" in answer.content.decode()
    assert Ceremony.unscoped.get(public_id=ceremony_id).status == "open"
    # the right browser can still finish, once
    assert client.get(local(back))["Location"].endswith("/finish/")
    assert client.get(local(back)).status_code == 400


@pytest.mark.django_db
def test_an_answer_from_another_issuer_is_refused(client, muni_a, natapp, virtual_card, taro_record):
    code = muni_a.code
    ceremony_id = open_in_browser(client, code, "identify")
    back = approve(client.post(f"/{code}/natapp/start/{ceremony_id}/")["Location"], virtual_card)
    answer = client.get(local(back).replace("iss=", "iss=https%3A%2F%2Fmix-up.example%2F&x="))
    refused(client, code, ceremony_id, answer, "provider_refused")


@pytest.mark.django_db
def test_the_resident_cancels(client, muni_a, natapp, virtual_card):
    ceremony_id, back = through_app(client, muni_a.code, "login", virtual_card, decision="deny")
    refused(client, muni_a.code, ceremony_id, back, "cancelled")


@pytest.mark.django_db
def test_a_disabled_path_is_refused_before_the_provider(client, muni_a, natapp, virtual_card):
    from madoguchi.ceremonies.models import CardPathSetting

    CardPathSetting.unscoped.filter(municipality=muni_a).update(enabled=["card-client"])
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    assert "スマートフォンで読み取る" not in client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    answer = client.post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")
    assert answer.status_code == 403 and "path_not_enabled" in answer.content.decode()
    assert not any(path.endswith("/auth") for _, path in natapp.requests)


@pytest.mark.django_db
def test_another_browsers_ceremony_cannot_be_started(client, muni_a, natapp):
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    answer = Client().post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")
    assert answer.status_code == 403 and "forbidden" in answer.content.decode()


@pytest.mark.django_db
def test_a_wrong_pin_stays_on_the_providers_page(client, muni_a, natapp, virtual_card):
    import re

    import requests

    ceremony_id = open_in_browser(client, muni_a.code, "login")
    url = client.post(f"/{muni_a.code}/natapp/start/{ceremony_id}/")["Location"]
    page = requests.get(url, timeout=10).text
    request_id = re.search(r'name="request" value="([^"]+)"', page).group(1)
    wrong = requests.post(url.split("?")[0], data={"request": request_id, "card": virtual_card, "pin": "9999",
                                                   "decision": "approve"}, allow_redirects=False, timeout=10)
    assert wrong.status_code == 200 and "残り2回" in wrong.text
    assert Ceremony.unscoped.get(public_id=ceremony_id).status == "open"


@pytest.mark.django_db
def test_the_waiting_page_lets_its_form_go_to_the_provider(client, muni_a, natapp):
    """Browsers check a form's redirects against CSP form-action: the provider's origin is
    allowed on the waiting page that offers the national app, and only there."""
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    page = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/")
    csp = page["Content-Security-Policy"]
    assert f"form-action 'self' {natapp.base_url}" in csp
    assert natapp.base_url not in client.get(f"/{muni_a.code}/").get("Content-Security-Policy", "")
