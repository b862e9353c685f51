"""The terminal agent as a library self-checkout: the card read without a PIN (virtual card,
real APDUs), the server's library API asked with the library's credential, and the kiosk
endpoint POST /patron on localhost."""

import http.client
import io
import json
import threading
import urllib.error

import pytest
from cryptography import x509
from django.test import Client

from madoguchi.card import virtual
from madoguchi.card.transport import VirtualTransport
from madoguchi.library import services
from madoguchi.municipalities.tenancy import tenant
from madoguchi.terminal import agent as agent_module
from madoguchi.terminal.agent import Agent, kiosk_server
from madoguchi.terminal.state import LocalState
from tests.ceremonies.conftest import TARO, dev_pki, pki, taro_record  # noqa: F401  (fixtures)
from tests.library.test_library import chuo, identify_with  # noqa: F401  (fixture)

ORIGIN = "https://city.example"


class Recording:
    """A transport that notes the instruction byte of every APDU sent to the card."""

    def __init__(self, inner):
        self.inner, self.instructions = inner, []

    def transmit(self, raw):
        self.instructions.append(raw[1])
        return self.inner.transmit(raw)

    def close(self):
        self.inner.close()


class _Answer:
    def __init__(self, status, body):
        self.status, self._body = status, body

    def read(self):
        return self._body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def through_django(monkeypatch):
    """The agent's HTTP requests answered by Django's test client (same thread, same database)."""
    client, seen = Client(), []

    def urlopen(req, timeout=None):
        path = req.full_url.removeprefix("http://server.test")
        seen.append((req.get_method(), path, req.get_header("Authorization")))
        response = client.post(path, data=req.data, content_type="application/json",
                               HTTP_AUTHORIZATION=req.get_header("Authorization"))
        if response.status_code >= 400:
            raise urllib.error.HTTPError(req.full_url, response.status_code, "", {}, io.BytesIO(response.content))
        return _Answer(response.status_code, response.content)

    monkeypatch.setattr(agent_module.urllib.request, "urlopen", urlopen)
    return seen


def new_agent(tmp_path, municipality, library=None):
    agent = Agent("http://server.test", municipality.code, "00000000-0000-0000-0000-000000000000", None,
                  LocalState(tmp_path / "state.sqlite3"), service="library")
    agent.library = library
    return agent


def test_the_agent_reads_the_card_without_a_pin_and_gets_the_patron_number(
        muni_a, chuo, pki, taro_record, tmp_path, through_django):
    library, credential = chuo
    holder = virtual.Holder(name=TARO.name, address=TARO.address, birth=TARO.birth, sex=TARO.sex)
    card = virtual.issue(tmp_path / "card", pki.ca, holder, pin="1234", password="MADO2026", text_pin="5678")
    with tenant(muni_a):
        taro = identify_with(muni_a, card)
        services.link(taro, library, "31415926")
    agent = new_agent(tmp_path, muni_a, ("chuo", credential))
    recording = Recording(VirtualTransport(virtual.VirtualCard(card)))
    status, answer = agent.patron(recording)
    assert (status, answer["patron_number"]) == (200, "31415926")
    assert through_django[-1] == ("POST", f"/{muni_a.code}/api/library/chuo/patron", f"Bearer {credential}")
    # No PIN: the card saw SELECT and READ BINARY only, never a VERIFY (INS 20).
    assert recording.instructions and set(recording.instructions) <= {0xA4, 0xB0}
    # A wrong credential and a card not linked: the server's refusal passes through.
    wrong = new_agent(tmp_path, muni_a, ("chuo", "lib_wrong"))
    assert wrong.patron(VirtualTransport(virtual.VirtualCard(card)))[0] == 401
    other = virtual.issue(tmp_path / "other", pki.ca, holder, pin="1234", password="MADO2026", text_pin="5678")
    status, answer = agent.patron(VirtualTransport(virtual.VirtualCard(other)))
    assert status == 404 and answer["error"] == "not_linked"
    # Revoked: 403 with the reason.
    der = agent.read_certificate(VirtualTransport(virtual.VirtualCard(card)))
    pki.ca.revoke(x509.load_der_x509_certificate(der).serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    status, answer = agent.patron(VirtualTransport(virtual.VirtualCard(card)))
    assert status == 403 and answer["reason"] == "keyCompromise"
    assert new_agent(tmp_path, muni_a).patron()[0] == 404  # no library configured: nothing read


def test_the_kiosk_endpoint_patron(muni_a, tmp_path, monkeypatch):
    agent = new_agent(tmp_path, muni_a, ("chuo", "x"))
    answers = iter([(200, {"patron_number": "1234"}), (403, {"error": "revoked", "reason": "keyCompromise"})])

    def patron(transport=None):
        try:
            return next(answers)
        except StopIteration:
            raise OSError("no card in the reader") from None

    monkeypatch.setattr(agent, "patron", patron)
    server = kiosk_server(agent, ORIGIN, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def post(origin=ORIGIN):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            conn.request("POST", "/patron", body=b"", headers={"Origin": origin})
            response = conn.getresponse()
            return response.status, json.loads(response.read())

        assert post("https://evil.example")[0] == 403  # another origin: nothing read
        assert post() == (200, {"patron_number": "1234"})
        assert post() == (403, {"error": "revoked", "reason": "keyCompromise"})
        status, body = post()
        assert status == 409 and body["reason"] == "no_card"
    finally:
        server.shutdown()
        server.server_close()
