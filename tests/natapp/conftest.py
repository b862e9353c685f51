"""The national-app path against the stand-in (madoguchi/standins/natapp.py) in a thread,
speaking real HTTP; madoguchi is driven through Django's test client, the stand-in's
approval page through requests (what the resident's phone does)."""

import re
from urllib.parse import urlsplit

import pytest
import requests

from madoguchi.ceremonies.models import CardPathSetting
from madoguchi.municipalities.tenancy import tenant
from madoguchi.natapp import keys, rp
from madoguchi.natapp.models import Registration
from madoguchi.standins.natapp import NatAppStandIn
from tests.ceremonies.conftest import (  # noqa: F401  (fixtures)
    HANAKO, TARO, dev_pki, issued_virtual_card, pki, taro_record, virtual_card,
)
from tests.ceremonies.test_flows import open_in_browser

CLIENT_ID = "RP00000001"


@pytest.fixture
def standin(pki):
    server = NatAppStandIn(pki.data_dir / "cards", pki.data_dir).start()
    rp.forget()
    yield server
    server.stop()
    rp.forget()


@pytest.fixture
def natapp(muni_a, standin):
    """muni_a registered with the (stand-in) national app, the path enabled."""
    with tenant(muni_a):
        Registration.objects.create(issuer=standin.issuer, client_id=CLIENT_ID)
        keys.rotate()
        CardPathSetting.objects.create(enabled=["card-client", "national-app"])
        jwks = keys.public_jwks()
    standin.register_client(CLIENT_ID, [f"http://testserver/{muni_a.code}/natapp/callback/"], jwks=jwks,
                            name="窓口市 オンライン窓口")
    return standin


def approve(url: str, card: str, *, pin="1234", text_pin="5678", password=None, decision="approve") -> str:
    """On the stand-in's page (the phone): read the card with its PINs and agree. Returns
    where the provider sends the browser back to (the callback with code and state)."""
    page = requests.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert "代役" in page.text  # the stand-in says what it is
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    form = {"request": request_id, "card": card, "pin": pin, "text_pin": text_pin, "decision": decision}
    if password is not None:
        form["password"] = password
    answer = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:800]
    return answer.headers["Location"]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def through_app(client, code, purpose, card, *, ceremony_id=None, **secrets):
    """The browser: waiting page → 「スマートフォンで読み取る」 → provider → back. Returns the
    ceremony id and madoguchi's answer to the callback."""
    ceremony_id = ceremony_id or open_in_browser(client, code, purpose)
    started = client.post(f"/{code}/natapp/start/{ceremony_id}/")
    assert started.status_code == 302, started.content.decode()[:800]
    back = approve(started["Location"], card, **secrets)
    return ceremony_id, client.get(local(back))
