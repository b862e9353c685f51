"""Card paths (ceremonies/cardpaths): the waiting page offers every registered path that
is offered for the ceremony; the demo's virtual card is one like the others."""

import pytest

from madoguchi.ceremonies.cardpaths import CARD_PATHS, CardPath
from madoguchi.registry import Entry
from tests.ceremonies.test_flows import open_in_browser


def test_the_paths_say_what_they_are():
    assert CARD_PATHS.names() == ["card-client", "demo-virtual-card"]
    assert CARD_PATHS.entry("demo-virtual-card").description.startswith("DEMO ONLY")


@pytest.mark.django_db
def test_a_registered_path_is_offered_on_the_waiting_page(client, muni_a, monkeypatch):
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
