"""The PIN path of 書かない窓口: the resident's 4-digit text PIN on the agent's PC, the text
AP's basic four facts authenticated on the server by the AP's integrity record (EF 0003)
under the card face issuer keys; the agent's wrong PIN / tries left / lockout / card pulled
out, its /text endpoint; the page (no photo, the PIN never posted to the server)."""

import base64
import json
import threading

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.card import apdu as A
from madoguchi.card import virtual
from madoguchi.card.transport import TransportError, VirtualTransport
from madoguchi.counter import services
from madoguchi.counter.models import Visit
from madoguchi.municipalities.tenancy import tenant
from madoguchi.terminal.agent import Agent, kiosk_server

from .conftest import HOLDER, TEXT_PIN, agent_read_pin
from .test_counter import _post

ORIGIN = "http://counter.example"


def test_pin_read_verified_and_visit_opened(muni_a, admin_a, counter_setup, card):
    card_dir, _code = card
    raw = agent_read_pin(card_dir)
    assert set(raw) == {"text_record", "text_integrity", "text_cv_certificate"}
    with tenant(muni_a):
        reading = services.verify_text_read(raw["text_record"], raw["text_integrity"], raw["text_cv_certificate"])
        assert (reading.name, reading.address, reading.birth_date, reading.sex) == (
            HOLDER.name, HOLDER.address, HOLDER.birth, "2")
        assert reading.photo_png == b"" and reading.expiry is None and reading.method == "pin"
        visit = services.open_visit(admin_a[0], reading)
        assert visit.record_id == counter_setup.pk and visit.facts["method"] == "pin"
        event = AuditEvent.objects.get(action="counter.card_read")
        assert event.data["method"] == "pin" and event.data["card"] == reading.card_hash
        assert "mynumber" not in json.dumps(visit.facts) and raw["text_integrity"] not in json.dumps(event.data)


def test_pin_read_altered_or_unsigned_refused(muni_a, counter_setup, card, settings):
    card_dir, _code = card
    raw = agent_read_pin(card_dir)
    text = base64.b64decode(raw["text_record"]).replace("花子".encode(), "花男".encode())
    with pytest.raises(services.CounterError) as altered:
        services.verify_text_read(base64.b64encode(text).decode(), raw["text_integrity"], raw["text_cv_certificate"])
    assert altered.value.code == "forged" and "偽造" in str(altered.value)
    integrity = bytearray(base64.b64decode(raw["text_integrity"]))
    integrity[-1] ^= 1
    with pytest.raises(services.CounterError) as bad_signature:
        services.verify_text_read(raw["text_record"], base64.b64encode(bytes(integrity)).decode(),
                                  raw["text_cv_certificate"])
    assert bad_signature.value.code == "forged"
    with pytest.raises(services.CounterError) as missing:
        services.verify_text_read(raw["text_record"], "", raw["text_cv_certificate"])
    assert missing.value.code == "not_read"
    settings.COUNTER_DEMO_ISSUER_ALLOWED = False
    with pytest.raises(services.CounterError) as no_key:
        services.verify_text_read(raw["text_record"], raw["text_integrity"], raw["text_cv_certificate"])
    assert no_key.value.code == "no_issuer"
    with tenant(muni_a):
        assert not Visit.objects.exists()


def test_agent_wrong_pin_tries_left_lockout_and_card_removed(card):
    card_dir, _code = card
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)

    def fresh():
        return VirtualTransport(virtual.VirtualCard(card_dir))

    with pytest.raises(ValueError):  # not 4 digits: nothing reaches the card, no try used
        agent.read_text("12345", transport=fresh())
    with pytest.raises(A.WrongPin) as first:
        agent.read_text("0000", transport=fresh())
    assert first.value.tries_left == 2
    assert agent.read_text(TEXT_PIN, transport=fresh())  # the right PIN restores the tries
    for left in (2, 1):
        with pytest.raises(A.WrongPin) as caught:
            agent.read_text("0000", transport=fresh())
        assert caught.value.tries_left == left
    with pytest.raises((A.PinBlocked, A.WrongPin)):
        agent.read_text("0000", transport=fresh())
    with pytest.raises(A.PinBlocked):
        agent.read_text(TEXT_PIN, transport=fresh())

    class Pulled(VirtualTransport):
        def transmit(self, apdu):
            raise TransportError("card removed")

    with pytest.raises(TransportError):
        agent.read_text(TEXT_PIN, transport=Pulled(virtual.VirtualCard(card_dir)))


def test_kiosk_text_endpoint(card, monkeypatch):
    card_dir, _code = card
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    real = agent.read_text
    pulled = {"now": False}

    class Pulled(VirtualTransport):
        def transmit(self, apdu):
            raise TransportError("card removed")

    def read(pin):
        kind = Pulled if pulled["now"] else VirtualTransport
        return real(pin, transport=kind(virtual.VirtualCard(card_dir)))

    monkeypatch.setattr(agent, "read_text", read)
    server = kiosk_server(agent, ORIGIN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert _post(port, "/text", {"pin": TEXT_PIN}, "http://evil.example")[0] == 403
        status, body, headers = _post(port, "/text", {"pin": TEXT_PIN}, ORIGIN)
        assert status == 200 and set(body) == {"text_record", "text_integrity", "text_cv_certificate"}
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        for bad in ({"pin": "12"}, {"pin": 1234}, {}):
            status, body, _h = _post(port, "/text", bad, ORIGIN)
            assert status == 409 and body["reason"] == "bad_pin"
        status, body, _h = _post(port, "/text", {"pin": "0000"}, ORIGIN)
        assert status == 409 and body == {"reason": "wrong_pin", "tries_left": 2}
        _post(port, "/text", {"pin": "0000"}, ORIGIN)
        _post(port, "/text", {"pin": "0000"}, ORIGIN)
        status, body, _h = _post(port, "/text", {"pin": TEXT_PIN}, ORIGIN)
        assert status == 409 and body["reason"] == "locked"
        pulled["now"] = True
        status, body, _h = _post(port, "/text", {"pin": TEXT_PIN}, ORIGIN)
        assert status == 409 and body["reason"] == "card_removed"
    finally:
        server.shutdown()
        server.server_close()


def test_pin_page(client_admin_a, muni_a, counter_setup, card):
    card_dir, _code = card
    base = f"/{muni_a.code}/staff/counter/"
    page = client_admin_a.get(base).content.decode()
    assert 'id="counter-pin"' in page and 'id="counter-pin-input"' in page
    pin_input = page[page.index('id="counter-pin-input"') - 200:page.index('id="counter-pin-input"') + 200]
    assert "name=" not in pin_input.split("<input")[-1].split(">")[0]  # the PIN is never posted
    not_read = client_admin_a.post(base, {"method": "pin"})
    assert not_read.status_code == 409 and "読み取ってください" in not_read.content.decode()
    raw = agent_read_pin(card_dir)
    forged = dict(raw, text_record=base64.b64encode(
        base64.b64decode(raw["text_record"]).replace("花子".encode(), "花男".encode())).decode())
    refused = client_admin_a.post(base, {"method": "pin", **forged})
    assert refused.status_code == 409 and "偽造" in refused.content.decode()
    response = client_admin_a.post(base, {"method": "pin", **raw})
    assert response.status_code == 201, response.content.decode()[:2000]
    text = response.content.decode()
    assert HOLDER.name in text and 'id="face-photo"' not in text and 'id="fact-method"' in text
    with tenant(muni_a):
        assert Visit.objects.get().facts["method"] == "pin"
