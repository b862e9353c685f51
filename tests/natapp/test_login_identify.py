"""Login and identify through the national app (stand-in): discovery, PKCE, state, nonce,
private_key_jwt, the ES256 ID token against the JWKS, userinfo's four facts; the pairwise
subject linked to the Person only through identify."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.ceremonies.models import Ceremony
from madoguchi.identity.models import Person, ResidentLink, SubjectCredential
from madoguchi.municipalities.tenancy import tenant
from madoguchi.natapp import keys
from tests.ceremonies.test_flows import sign_in

from .conftest import CLIENT_ID, local, through_app


@pytest.mark.django_db
def test_identify_then_login_through_the_app(client, muni_a, natapp, virtual_card, taro_record):
    code = muni_a.code
    ceremony_id, back = through_app(client, code, "identify", virtual_card)
    assert back.status_code == 302 and back["Location"] == f"/{code}/ceremony/{ceremony_id}/finish/"
    assert client.get(back["Location"]).status_code == 302
    assert "窓口　太郎" in client.get(f"/{code}/account/").content.decode()
    ceremony = Ceremony.unscoped.get(public_id=ceremony_id)
    assert (ceremony.card_path, ceremony.token_type, ceremony.status) == ("national-app", "card", "consumed")
    assert ceremony.verification["acr"] == "aal3" and ceremony.verification["amr"] == ["sc", "pin"]
    subject = SubjectCredential.objects.get()
    assert (subject.issuer, subject.client_id) == (natapp.issuer, CLIENT_ID)
    assert ResidentLink.unscoped.get(municipality=muni_a).record == taro_record
    event = AuditEvent.unscoped.filter(municipality=muni_a, action="identity.identified").last()
    assert event.data == {"new_person": True, "method": "national_app"}

    # What madoguchi asked for: PKCE S256, state, nonce, acr_values, the four scopes.
    other = Client()
    ceremony_id = __import__("tests.ceremonies.test_flows", fromlist=["x"]).open_in_browser(other, code, "login")
    asked = parse_qs(urlsplit(other.post(f"/{code}/natapp/start/{ceremony_id}/")["Location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["scope"] == ["openid"] and asked["acr_values"] == ["aal2"] and asked["client_id"] == [CLIENT_ID]
    assert asked["state"][0] and asked["nonce"][0]

    # A later login with the same subject signs in the same Person (another browser).
    later = Client()
    ceremony_id, back = through_app(later, code, "login", virtual_card)
    assert back["Location"] == f"/{code}/ceremony/{ceremony_id}/finish/"
    later.get(back["Location"])
    assert "窓口　太郎" in later.get(f"/{code}/account/").content.decode()
    assert Person.objects.count() == 1 and SubjectCredential.objects.count() == 1


@pytest.mark.django_db
def test_login_before_identify_links_nothing(client, muni_a, natapp, virtual_card, taro_record):
    ceremony_id, back = through_app(client, muni_a.code, "login", virtual_card)
    assert back["Location"] == f"/{muni_a.code}/ceremony/{ceremony_id}/"  # the failure, one action
    assert Ceremony.unscoped.get(public_id=ceremony_id).failure_code == "unknown_card"
    assert "本人確認" in client.get(back["Location"]).content.decode()
    assert not SubjectCredential.objects.exists() and not Person.objects.exists()


@pytest.mark.django_db
def test_the_card_client_and_the_app_make_one_person(client, muni_a, pki, natapp, virtual_card, taro_record):
    """A resident who identified with the card client and then through the app is one
    Person: the four facts match the same resident record, already linked."""
    sign_in(client, muni_a.code, "identify", pki.taro)
    other = Client()
    ceremony_id, back = through_app(other, muni_a.code, "identify", virtual_card)
    assert back["Location"].endswith("/finish/")
    assert Person.objects.count() == 1
    assert SubjectCredential.objects.get().person == Person.objects.get()


@pytest.mark.django_db
def test_the_client_key_rotates(client, muni_a, natapp, virtual_card, taro_record):
    """A new client key signs the next assertion; the provider holds the new JWKS."""
    with tenant(muni_a):
        old = keys.current("sig").kid
        keys.rotate("sig")
        new = keys.current("sig").kid
        natapp.register_client(CLIENT_ID, [f"http://testserver/{muni_a.code}/natapp/callback/"],
                               jwks=keys.public_jwks())
    assert old != new
    ceremony_id, back = through_app(client, muni_a.code, "identify", virtual_card)
    assert back["Location"].endswith("/finish/")
    # Served for the provider to fetch, with both keys until the old one is withdrawn.
    served = client.get(f"/{muni_a.code}/natapp/jwks").json()
    assert {old, new} <= {k["kid"] for k in served["keys"]} and all("d" not in k for k in served["keys"])


@pytest.mark.django_db
def test_the_providers_key_rotation_refreshes_the_cached_jwks(client, muni_a, natapp, virtual_card, taro_record):
    through_app(Client(), muni_a.code, "identify", virtual_card)  # JWKS cached
    fetched = sum(1 for r in natapp.requests if r[1].endswith("/certs"))
    natapp.rotate_key(keep_old=False)
    ceremony_id, back = through_app(client, muni_a.code, "login", virtual_card)
    assert back["Location"].endswith("/finish/")
    assert sum(1 for r in natapp.requests if r[1].endswith("/certs")) == fetched + 1
    # and with the key known, no further fetch
    through_app(Client(), muni_a.code, "login", virtual_card)
    assert sum(1 for r in natapp.requests if r[1].endswith("/certs")) == fetched + 1


def test_the_standin_is_refused_in_production(pki, monkeypatch):
    from madoguchi.standins import StandInRefused
    from madoguchi.standins.natapp import NatAppStandIn, main

    monkeypatch.setenv("MADOGUCHI_ENV", "production")
    with pytest.raises(StandInRefused):
        NatAppStandIn(pki.data_dir / "cards", pki.data_dir)
    assert main(["--data-dir", str(pki.data_dir)]) == 2
