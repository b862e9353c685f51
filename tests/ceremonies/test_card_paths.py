"""Card paths (ceremonies/cardpaths): the waiting page offers every registered path that
is offered for the ceremony; the demo's virtual card is one like the others."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.audit.models import AuditEvent
from madoguchi.ceremonies.models import Ceremony
from madoguchi.identity.models import ResidentLink
from madoguchi.municipalities.tenancy import tenant
from madoguchi.natapp import keys as natapp_keys
from madoguchi.natapp.models import Registration

from madoguchi.ceremonies.cardpaths import CARD_PATHS, CardPath
from madoguchi.registry import Entry
from tests.ceremonies.test_flows import card_completes, open_in_browser, sign_in


def test_the_paths_say_what_they_are():
    assert CARD_PATHS.names() == ["card-client", "demo-virtual-card", "national-app"]
    assert CARD_PATHS.entry("demo-virtual-card").description.startswith("DEMO ONLY")


@pytest.mark.django_db
def test_a_registered_path_is_offered_on_the_waiting_page(client, muni_a, monkeypatch, settings):
    settings.CARD_PATHS_ENABLED = [*settings.CARD_PATHS_ENABLED, "elsewhere"]
    class Elsewhere(CardPath):
        template = "ceremonies/cardpaths/client.html"  # shows path.client_url

        def offered(self, request, ceremony):
            return ceremony.purpose == "login"

        def context(self, request, ceremony):
            return {"client_url": f"https://citizen-card.example/{ceremony.public_id}", "qr": ""}

    monkeypatch.setitem(CARD_PATHS._entries, "elsewhere", Entry("elsewhere", Elsewhere(), "a test's path"))
    ceremony_id = open_in_browser(client, muni_a.code, "login")
    page = client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()
    assert f"https://citizen-card.example/{ceremony_id}" in page
    assert f"/{muni_a.code}/api/ceremonies/{ceremony_id}" in page  # the card client's path is still there
    ceremony_id = open_in_browser(client, muni_a.code, "identify")
    assert "citizen-card.example" not in client.get(f"/{muni_a.code}/ceremony/{ceremony_id}/").content.decode()


def card_paths(*args):
    out = io.StringIO()
    call_command("card_paths", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_municipality_chooses_its_card_paths(client, muni_a, muni_b, pki, taro_record):
    """The installation's default until a municipality chooses; a disabled path is neither
    shown nor able to complete a ceremony; the change is audited; the other municipality
    keeps its own."""
    code = muni_a.code
    listing = card_paths("--municipality", code)
    assert "enabled  card-client" in listing and "disabled national-app" in listing
    ceremony_id = open_in_browser(client, code, "login")
    assert "client-url" in client.get(f"/{code}/ceremony/{ceremony_id}/").content.decode()

    with tenant(muni_a):  # registered with the national app (madoguchi natapp configure)
        Registration.objects.create(issuer="https://auth-and-sign.example/api/realms/main", client_id="RP0001")
        natapp_keys.rotate()
    listing = card_paths("--municipality", code, "--enable", "national-app", "--disable", "card-client")
    assert "enabled  national-app" in listing and "disabled card-client" in listing
    event = AuditEvent.unscoped.get(municipality=muni_a, action="ceremony.card_paths_changed")
    assert event.data["after"] == ["demo-virtual-card", "national-app"]
    ceremony_id = open_in_browser(client, code, "identify")
    page = client.get(f"/{code}/ceremony/{ceremony_id}/").content.decode()
    assert "client-url" not in page and "スマートフォンで読み取る" in page
    # A card client's answer through the disabled path is refused, nothing linked.
    refused = card_completes(code, ceremony_id, pki.taro)
    assert refused.status_code == 403 and refused.json()["code"] == "path_not_enabled"
    assert not ResidentLink.unscoped.exists()
    # The other municipality is untouched.
    assert "enabled  card-client" in card_paths("--municipality", muni_b.code)

    card_paths("--municipality", code, "--reset")
    assert "enabled  card-client" in card_paths("--municipality", code)


@pytest.mark.django_db
def test_card_paths_bad_input_exits_2(muni_a):
    for args, message in ((["--municipality", "999999"], "no municipality"),
                          (["--municipality", muni_a.code, "--enable", "carrier-pigeon"], "unknown card path"),
                          (["--municipality", muni_a.code, "--enable", "national-app", "--disable", "national-app"],
                           "at once"),
                          (["--municipality", muni_a.code, "--disable", "card-client", "--disable",
                            "demo-virtual-card"], "at least one")):
        with pytest.raises(CommandError) as raised:
            card_paths(*args)
        assert raised.value.returncode == 2 and message in str(raised.value)
    assert not AuditEvent.unscoped.filter(action="ceremony.card_paths_changed").exists()


@pytest.mark.django_db
def test_the_outcome_records_the_path_and_the_token_type(client, muni_a, pki, taro_record):
    ceremony_id = sign_in(client, muni_a.code, "identify", pki.taro)
    ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
    assert (ceremony.card_path, ceremony.token_type) == ("card-client", "card")
    event = AuditEvent.unscoped.filter(municipality=muni_a, action="ceremony.completed").last()
    assert event.data["card_path"] == "card-client" and event.data["token_type"] == "card"
