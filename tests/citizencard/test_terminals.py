"""Terminals registered by staff, the signed terminal API (lists down, events up) and tickets
bound to a resident's card: admitted once, conflicts across gates kept for staff, moved to
another card only by the issuer. In-process (Django's test client); the live end-to-end run
with the agent and the PC/SC card is tests/citizencard/test_terminal_live.py."""

import base64
import datetime as dt
import json
import time
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.citizencard import services
from madoguchi.citizencard.models import Terminal, TerminalEvent, Ticket, TicketType
from madoguchi.core.dates import today_in_japan
from madoguchi.identity.models import CardCredential, Person
from madoguchi.identity.services import CertificateRef
from madoguchi.municipalities.tenancy import tenant
from madoguchi.terminal import signing
from madoguchi.terminal.index import SortedKeys, card_key
from tests.ceremonies.conftest import HANAKO, TARO, dev_pki, pki  # noqa: F401  (fixtures)
from tests.conftest import sign_in


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def person_with_card(issued, facts=TARO) -> Person:
    person = Person.objects.create(verified_name=facts.name, verified_birth_date=facts.birth, verified_sex=facts.sex,
                                   verified_address=facts.address, verified_at=dt.datetime.now(dt.timezone.utc))
    link_card(person, issued)
    return person


def link_card(person, issued):
    ref = CertificateRef.from_der(der(issued.auth_cert))
    return CardCredential.objects.create(person=person, purpose="auth", certificate=ref.der, sha256=ref.sha256,
                                         issuer_key_id=ref.issuer_key_id, serial=ref.serial,
                                         not_after=ref.not_after)


def signed_in(client, municipality, person):
    session = client.session
    now = int(time.time())
    session["resident"] = {"person": str(person.public_id), "municipality": municipality.pk,
                           "assurance": "login", "since": now, "seen": now}
    session.save()


class Gate:
    """A terminal's side of the protocol, as madoguchi.terminal.agent signs it."""

    def __init__(self, client, code, terminal_id, key):
        self.client, self.code, self.terminal_id, self.key = client, code, str(terminal_id), key

    def call(self, method, name, body=b"", stamp=None, key=None, terminal_id=None):
        path = f"/{self.code}/api/terminal/{name}"
        stamp = str(int(time.time()) if stamp is None else stamp)
        tid = terminal_id or self.terminal_id
        headers = {"HTTP_X_TERMINAL_ID": tid, "HTTP_X_TERMINAL_TIME": stamp,
                   "HTTP_X_TERMINAL_SIGNATURE": signing.sign(key or self.key, method, path, tid, stamp, body)}
        if method == "GET":
            return self.client.get(path, **headers)
        return self.client.post(path, data=body, content_type="application/json", **headers)

    def lists(self, **kw):
        return self.call("GET", "lists", **kw)

    def events(self, events, **kw):
        return self.call("POST", "events", json.dumps({"events": events}).encode(), **kw)


def event(card, result="admitted", **extra):
    return {"id": str(uuid.uuid4()), "service": "tickets", "card": f"{card:016x}", "result": result,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(), **extra}


@pytest.fixture
def setup(muni_a, admin_a, pki):
    with tenant(muni_a):
        services.set_enabled(admin_a[0], "tickets", True)
        concert = services.create_ticket_type(admin_a[0], event="市民音楽祭", day=today_in_japan(), admission="一般")
        taro = person_with_card(pki.taro.issued)
    return concert, taro


def register(muni_a, admin_a, ticket_type=None, key=None):
    key = key or signing.new_key()
    with tenant(muni_a):
        terminal = services.register_terminal(admin_a[0], name="東口ゲート", place="市民ホール", service_key="tickets",
                                              public_key=signing.public_pem(key),
                                              ticket_type_id=ticket_type.pk if ticket_type else None)
    return terminal, key


def test_staff_register_list_revoke_pages_with_audit(muni_a, admin_a, admin_b, muni_b, setup, pki):
    staff = Client()
    assert sign_in(staff, muni_a, *admin_a).status_code == 302
    url = f"/{muni_a.code}/staff/card-services/terminals/"
    assert url in staff.get(f"/{muni_a.code}/staff/card-services/").content.decode()
    assert "端末を登録する" in staff.get(url).content.decode()
    key = signing.new_key()
    form = {"name": "東口ゲート1", "place": "市民ホール", "service": "tickets", "ticket_type": "",
            "public_key": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"}
    bad = staff.post(url, form)
    assert bad.status_code == 400 and "madoguchi terminal keygen" in bad.content.decode()
    rsa_key = pki.taro.issued.auth_cert.public_key().public_bytes(  # an RSA key is refused too
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert staff.post(url, dict(form, public_key=rsa_key)).status_code == 400
    assert staff.post(url, dict(form, service="demo", public_key=signing.public_pem(key))).status_code == 400
    # Pasted as a terminal prints it, with Windows line ends and indentation: accepted.
    pasted = "\r\n".join("  " + line for line in signing.public_pem(key).splitlines())
    assert staff.post(url, dict(form, public_key=pasted)).status_code == 302
    assert staff.post(url, dict(form, public_key=signing.public_pem(key))).status_code == 400  # same key twice
    with tenant(muni_a):
        terminal = Terminal.objects.get()
        assert terminal.registered_by == admin_a[0] and terminal.active
        assert AuditEvent.objects.filter(action="citizencard.terminal_registered").count() == 1
    page = staff.get(url).content.decode()
    assert str(terminal.public_id) in page and "東口ゲート1" in page
    revoke = f"/{muni_a.code}/staff/card-services/terminals/{terminal.pk}/revoke/"
    assert staff.post(revoke, {"reason": ""}).status_code == 302  # refused with a message
    with tenant(muni_a):
        assert Terminal.objects.get().active
    assert staff.post(revoke, {"reason": "紛失"}).status_code == 302
    with tenant(muni_a):
        gone = Terminal.objects.get()
        assert not gone.active and gone.revoked_reason == "紛失"
        assert AuditEvent.objects.filter(action="citizencard.terminal_revoked").count() == 1
    # Another municipality's administrator: not their terminal.
    other = Client()
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert other.post(f"/{muni_b.code}/staff/card-services/terminals/{terminal.pk}/revoke/",
                      {"reason": "x"}).status_code == 404
    assert other.get(url).status_code in (302, 403, 404)


def test_signed_api_refuses_unknown_forged_stale_and_revoked(client, muni_a, admin_a, setup):
    terminal, key = register(muni_a, admin_a)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    assert gate.lists().status_code == 200
    unsigned = client.get(f"/{muni_a.code}/api/terminal/lists")
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "unsigned"
    assert gate.lists(terminal_id=str(uuid.uuid4())).json()["error"] == "unknown_terminal"
    assert gate.lists(terminal_id="1 OR 1=1").json()["error"] == "bad_headers"
    forged = gate.lists(key=signing.new_key())
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"
    # Well outside the ±300 s window: a slow run crossing a second boundary must not bring it back in.
    replayed = gate.lists(stamp=int(time.time()) - 330)
    assert replayed.status_code == 401 and replayed.json()["error"] == "stale"
    assert gate.lists(stamp=int(time.time()) + 330).json()["error"] == "stale"
    # A signature for one path does not open another municipality's API.
    other = client.get(f"/{muni_a.code}x/api/terminal/lists")
    assert other.status_code in (401, 404)
    with tenant(muni_a):
        services.revoke_terminal(admin_a[0], terminal.pk, "紛失")
    revoked = gate.lists()
    assert revoked.status_code == 403 and "紛失" in revoked.json()["message"]
    assert gate.events([event(1)]).status_code == 403


def test_lists_events_once_and_conflict_across_gates(client, muni_a, admin_a, setup, pki):
    concert, taro = setup
    with tenant(muni_a):
        ticket = services.bind_ticket(taro, concert.public_id)
        assert AuditEvent.objects.filter(action="citizencard.ticket_bound").count() == 1
    east, east_key = register(muni_a, admin_a, concert)
    west, west_key = register(muni_a, admin_a)
    gate_e = Gate(client, muni_a.code, east.public_id, east_key)
    gate_w = Gate(client, muni_a.code, west.public_id, west_key)
    data = gate_e.lists().json()
    taro_card = card_key(der(pki.taro.issued.auth_cert))
    assert ticket.card_key == f"{taro_card:016x}"
    assert taro_card in SortedKeys.from_bytes(base64.b64decode(data["allow"]["tickets"]))
    revoked = SortedKeys.from_bytes(base64.b64decode(data["revoked"]))  # from the store's CRL indexes
    assert pki.taro.issued.auth_cert.serial_number not in revoked
    assert gate_w.lists().json()["allow"] == data["allow"]  # the day's tickets
    # A terminal holding the current revocation index gets it left out; another version: sent.
    held = gate_e.call("GET", "lists", stamp=None)
    path = f"/{muni_a.code}/api/terminal/lists"
    stamp = str(int(time.time()))
    headers = {"HTTP_X_TERMINAL_ID": str(east.public_id), "HTTP_X_TERMINAL_TIME": stamp,
               "HTTP_X_TERMINAL_SIGNATURE": signing.sign(east_key, "GET", path, str(east.public_id), stamp, b"")}
    light = client.get(path, HTTP_X_TERMINAL_REVOKED_VERSION=data["revoked_version"], **headers).json()
    assert "revoked" not in light and light["version"] == data["version"] == held.json()["version"]
    assert "revoked" in client.get(path, HTTP_X_TERMINAL_REVOKED_VERSION="0" * 16, **headers).json()
    first = event(taro_card)
    answer = gate_e.events([first, event(taro_card, "already_used")])
    assert answer.status_code == 200 and answer.json()["acknowledged"][0] == first["id"]
    assert gate_e.events([first]).json() == {"acknowledged": [first["id"]]}  # a resend: no duplicate
    with tenant(muni_a):
        assert TerminalEvent.objects.filter(terminal=east).count() == 2
        ticket.refresh_from_db()
        assert ticket.status == "used" and ticket.admitted_by == east
    assert taro_card not in SortedKeys.from_bytes(base64.b64decode(gate_e.lists().json()["allow"]["tickets"]))
    # The west gate had old lists (offline) and admitted the same ticket: kept, as a conflict.
    assert gate_w.events([event(taro_card)]).status_code == 200
    with tenant(muni_a):
        conflict = TerminalEvent.objects.get(terminal=west)
        assert conflict.outcome == "conflict" and conflict.ticket == ticket
        assert AuditEvent.objects.filter(action="citizencard.admission_conflict").count() == 1
    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    page = staff.get(f"/{muni_a.code}/staff/card-services/tickets/{concert.pk}/").content.decode()
    assert "重複入場" in page and "東口ゲート" in page
    # An unknown card admitted by a gate with stale lists: stored as unknown.
    gate_e.events([event(12345)])
    with tenant(muni_a):
        assert TerminalEvent.objects.filter(outcome="unknown").count() == 1


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"events": {}}', b'{"events": [1]}',
    json.dumps({"events": [{"id": "a b", "service": "tickets", "card": "00" * 8, "result": "admitted",
                            "at": "2026-01-01T00:00:00+00:00"}]}).encode(),
    json.dumps({"events": [{"id": "a", "service": "library", "card": "00" * 8, "result": "admitted",
                            "at": "2026-01-01T00:00:00+00:00"}]}).encode(),
    json.dumps({"events": [{"id": "a", "service": "tickets", "card": "zz", "result": "admitted",
                            "at": "2026-01-01T00:00:00+00:00"}]}).encode(),
    json.dumps({"events": [{"id": "a", "service": "tickets", "card": "00" * 8, "result": "maybe",
                            "at": "2026-01-01T00:00:00+00:00"}]}).encode(),
    json.dumps({"events": [{"id": "a", "service": "tickets", "card": "00" * 8, "result": "admitted",
                            "at": "yesterday"}]}).encode(),
    json.dumps({"events": [{"id": "a", "service": "tickets", "card": "00" * 8, "result": "admitted",
                            "at": "2026-01-01T00:00:00"}]}).encode(),
    json.dumps({"events": [{"id": str(i), "service": "tickets", "card": "00" * 8, "result": "admitted",
                            "at": "2026-01-01T00:00:00+00:00"} for i in range(1001)]}).encode(),
    b'{"events": [], "pad": "' + b"x" * (1024 * 1024) + b'"}',
])
def test_malformed_or_oversized_events_400_nothing_stored(client, muni_a, admin_a, setup, body):
    terminal, key = register(muni_a, admin_a)
    answer = Gate(client, muni_a.code, terminal.public_id, key).call("POST", "events", body)
    assert answer.status_code == 400 and answer.json()["message"]
    with tenant(muni_a):
        assert not TerminalEvent.objects.exists()


def test_a_batch_with_one_bad_event_stores_none(client, muni_a, admin_a, setup):
    terminal, key = register(muni_a, admin_a)
    good = event(1)
    assert Gate(client, muni_a.code, terminal.public_id, key).events([good, dict(event(2), card="x")]).status_code == 400
    with tenant(muni_a):
        assert not TerminalEvent.objects.exists()


def test_resident_binds_once_issuer_rebinds_after_renewal(client, muni_a, admin_a, setup, pki):
    concert, taro = setup
    signed_in(client, muni_a, taro)
    url = f"/{muni_a.code}/card-services/tickets/"
    assert url in client.get(f"/{muni_a.code}/card-services/").content.decode()  # the portal links to it
    assert "市民音楽祭" in client.get(url).content.decode()
    assert client.post(url, {"ticket_type": "nope"}).status_code == 400
    assert client.post(url, {"ticket_type": str(uuid.uuid4())}).status_code == 400
    assert client.post(url, {"ticket_type": str(concert.public_id)}).status_code == 302
    again = client.post(url, {"ticket_type": str(concert.public_id)})
    assert again.status_code == 400
    assert Client().get(url).status_code == 302  # sign in first
    with tenant(muni_a):
        ticket = Ticket.objects.get()
    old_key = ticket.card_key
    # The card is renewed: the new certificate is linked (an identify ceremony) and used.
    renewed = pki.ca.issue_card(TARO)
    credential = link_card(taro, renewed)
    CardCredential.objects.filter(pk=credential.pk).update(last_used_at=dt.datetime.now(dt.timezone.utc))
    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    rebind = f"/{muni_a.code}/staff/card-services/tickets/{concert.pk}/rebind/{ticket.pk}/"
    assert staff.post(rebind).status_code == 302
    with tenant(muni_a):
        ticket.refresh_from_db()
        assert ticket.card_key == f"{card_key(der(renewed.auth_cert)):016x}" != old_key
        event_ = AuditEvent.objects.get(action="citizencard.ticket_rebound")
        assert event_.data["from_card"] == old_key
    assert staff.get(f"/{muni_a.code}/staff/card-services/tickets/{concert.pk + 999}/").status_code == 404
    assert staff.post(f"/{muni_a.code}/staff/card-services/tickets/{concert.pk}/rebind/{ticket.pk + 999}/"
                      ).status_code == 404
    # A resident cannot reach the staff action.
    assert client.post(rebind).status_code in (302, 403)


def test_a_revoked_certificate_is_refused_with_the_reason(muni_a, admin_a, setup, pki):
    concert, _ = setup
    card = pki.ca.issue_card(HANAKO)
    with tenant(muni_a):
        hanako = person_with_card(card, HANAKO)
    pki.ca.revoke(card.auth_cert.serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    with tenant(muni_a), pytest.raises(services.CitizenCardError) as refused:
        services.bind_ticket(hanako, concert.public_id)
    assert "失効" in refused.value.message and "keyCompromise" in refused.value.message
    with tenant(muni_a):
        assert card.auth_cert.serial_number in services.revoked_keys()


def test_the_terminals_revocation_index_holds_authentication_serials_only(muni_a, setup, pki):
    card = pki.ca.issue_card(HANAKO)
    pki.ca.revoke(card.sign_cert.serial_number, x509.ReasonFlags.affiliation_changed)  # she moved
    pki.publish_crls()
    with tenant(muni_a):
        revoked = services.revoked_keys()
    assert card.sign_cert.serial_number & (2**64 - 1) not in revoked  # another card's auth serial may be it
    assert card.auth_cert.serial_number not in revoked
    pki.ca.revoke(card.auth_cert.serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    with tenant(muni_a):
        assert card.auth_cert.serial_number in services.revoked_keys()


def test_ticket_type_form_and_bad_input(muni_a, admin_a, setup):
    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    url = f"/{muni_a.code}/staff/card-services/tickets/"
    assert staff.post(url, {"event": "", "day": "2020-01-01", "admission": ""}).status_code == 400
    past = staff.post(url, {"event": "花火", "day": "2020-01-01", "admission": "一般"})
    assert past.status_code == 400 and "今日以降" in past.content.decode()
    assert staff.post(url, {"event": "花火", "day": today_in_japan().isoformat(), "admission": "一般"}).status_code == 302


def test_a_multi_entry_ticket_enters_again_and_stays_valid(client, muni_a, admin_a, setup, pki):
    _concert, taro = setup
    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    url = f"/{muni_a.code}/staff/card-services/tickets/"
    today = today_in_japan().isoformat()
    bad = staff.post(url, {"event": "夏祭り", "day": today, "admission": "1日券", "single_entry": "2"})
    assert bad.status_code == 400 and "入場の回数" in bad.content.decode()
    made = staff.post(url, {"event": "夏祭り", "day": today, "admission": "1日券", "single_entry": "0"})
    assert made.status_code == 302
    with tenant(muni_a):
        festival = TicketType.objects.get(event="夏祭り")
        assert not festival.single_entry
        ticket = services.bind_ticket(taro, festival.public_id)
    assert "再入場できる" in staff.get(url).content.decode()
    gate, key = register(muni_a, admin_a, festival)
    gate = Gate(client, muni_a.code, gate.public_id, key)
    taro_card = card_key(der(pki.taro.issued.auth_cert))
    allow = {name: SortedKeys.from_bytes(base64.b64decode(raw)) for name, raw in gate.lists().json()["allow"].items()}
    assert taro_card in allow["tickets+reentry"] and taro_card not in allow["tickets"]
    first, second = event(taro_card), event(taro_card)
    assert gate.events([first, second]).json()["acknowledged"] == [first["id"], second["id"]]
    with tenant(muni_a):
        assert sorted(TerminalEvent.objects.values_list("outcome", flat=True)) == ["admitted", "admitted"]
        ticket.refresh_from_db()
        assert ticket.status == "valid" and ticket.admitted_at is not None
        assert not AuditEvent.objects.filter(action="citizencard.admission_conflict").exists()
    again = {name: SortedKeys.from_bytes(base64.b64decode(raw)) for name, raw in gate.lists().json()["allow"].items()}
    assert taro_card in again["tickets+reentry"]  # still admitted at the next sync


def test_the_lists_version_changes_when_a_ticket_moves_between_lists(client, muni_a, admin_a, setup, pki):
    concert, taro = setup
    with tenant(muni_a):
        services.bind_ticket(taro, concert.public_id)
    terminal, key = register(muni_a, admin_a, concert)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    before = gate.lists().json()
    with tenant(muni_a):
        TicketType.objects.filter(pk=concert.pk).update(single_entry=False)
    after = gate.lists().json()
    assert after["version"] != before["version"] and after["revoked_version"] == before["revoked_version"]
    assert after["allow"]["tickets"] == before["allow"]["tickets+reentry"]


def test_a_concurrent_resend_is_acknowledged_without_a_duplicate(client, muni_a, admin_a, setup, monkeypatch):
    from django.db import IntegrityError

    terminal, key = register(muni_a, admin_a)
    real, calls = services._store_events, []

    def raced(terminal_, events):  # another request stored the same batch first
        calls.append(1)
        if len(calls) == 1:
            real(terminal_, events)
            raise IntegrityError("duplicate key value violates unique constraint citizencard_event_once")
        return real(terminal_, events)

    monkeypatch.setattr(services, "_store_events", raced)
    batch = [event(1), event(2)]
    answer = Gate(client, muni_a.code, terminal.public_id, key).events(batch)
    assert answer.json() == {"acknowledged": [e["id"] for e in batch]} and len(calls) == 2
    with tenant(muni_a):
        assert TerminalEvent.objects.count() == 2


def test_a_week_offline_thousands_of_events_sync_once(client, muni_a, admin_a, setup, pki, tmp_path):
    """A gate offline for a week: 2,000 decisions queued, uploaded in the agent's batches of
    500, one batch acknowledged twice (its answer lost): every event stored exactly once."""
    from madoguchi.terminal.state import LocalState

    concert, taro = setup
    with tenant(muni_a):
        services.bind_ticket(taro, concert.public_id)
    terminal, key = register(muni_a, admin_a, concert)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    state = LocalState(tmp_path / "gate.sqlite3")
    data = gate.lists().json()
    state.install(data["version"], SortedKeys.from_bytes(base64.b64decode(data["revoked"])),
                  {"tickets": SortedKeys.from_bytes(base64.b64decode(data["allow"]["tickets"]))})
    taro_card = card_key(der(pki.taro.issued.auth_cert))
    results = [state.decide("tickets", taro_card if i % 100 == 0 else i, 7).reason for i in range(2000)]
    assert results.count("admitted") == 1 and results.count("already_used") == 19
    first = state.pending()
    assert gate.events(first).status_code == 200  # stored, but the answer never reached the gate
    sent = 0
    while batch := state.pending():
        ids = gate.events(batch).json()["acknowledged"]
        state.acknowledge(ids)
        sent += len(ids)
    assert sent == 2000
    with tenant(muni_a):
        assert TerminalEvent.objects.filter(terminal=terminal).count() == 2000
        assert TerminalEvent.objects.filter(outcome="admitted").count() == 1
        assert Ticket.objects.get().status == "used"


def test_kiosk_page_of_an_active_terminal_may_call_its_agent_only(client, muni_a, admin_a, setup):
    terminal, _ = register(muni_a, admin_a)
    url = f"/{muni_a.code}/kiosk/{terminal.public_id}/"
    page = client.get(url + "?agent=9000")
    assert page.status_code == 200 and 'data-agent="http://127.0.0.1:9000"' in page.content.decode()
    csp = page["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:9000" in csp
    assert 'data-agent="http://127.0.0.1:8765"' in client.get(url).content.decode()  # the agent's default port
    for bad in ("80", "70000", "x", "9000;script-src *"):
        assert client.get(url, {"agent": bad}).status_code == 400
    assert client.get(f"/{muni_a.code}/kiosk/{uuid.uuid4()}/").status_code == 404
    with tenant(muni_a):
        services.revoke_terminal(admin_a[0], terminal.pk, "紛失")
    assert client.get(url).status_code == 404


def test_a_ticket_cancelled_leaves_the_gate_and_may_be_bound_again(client, muni_a, admin_a, setup, pki):
    concert, taro = setup
    terminal, key = register(muni_a, admin_a, concert)
    gate = Gate(client, muni_a.code, terminal.public_id, key)
    signed_in(client, muni_a, taro)
    url = f"/{muni_a.code}/card-services/tickets/"
    assert client.post(url, {"ticket_type": str(concert.public_id)}).status_code == 302
    with tenant(muni_a):
        ticket = Ticket.objects.get()
    card = int(ticket.card_key, 16)
    assert card in SortedKeys.from_bytes(base64.b64decode(gate.lists().json()["allow"]["tickets"]))

    # Bad input: not a ticket id, another person's ticket — 400 with the reason, nothing changed.
    for bad in ("nope", str(uuid.uuid4())):
        refused = client.post(url, {"cancel": bad})
        assert refused.status_code == 400 and "そのチケットはありません" in refused.content.decode()
    page = client.get(url).content.decode()
    assert "このチケットを取り消す" in page
    assert client.post(url, {"cancel": str(ticket.public_id)}).status_code == 302
    with tenant(muni_a):
        ticket.refresh_from_db()
        assert ticket.status == "cancelled"
        assert AuditEvent.objects.filter(action="citizencard.ticket_cancelled").count() == 1
    assert card not in SortedKeys.from_bytes(base64.b64decode(gate.lists().json()["allow"]["tickets"]))
    again = client.post(url, {"cancel": str(ticket.public_id)})
    assert again.status_code == 400 and "取り消せません" in again.content.decode()
    # A gate offline since before the cancellation admits it: the sync shows staff what happened.
    assert gate.events([event(card)]).status_code == 200
    with tenant(muni_a):
        assert TerminalEvent.objects.get().outcome == "cancelled"
        assert AuditEvent.objects.filter(action="citizencard.admission_cancelled_ticket").count() == 1

    # The type is offered again; binding it again reuses the same ticket, valid on the current card.
    assert str(concert.public_id) in client.get(url).content.decode()
    assert client.post(url, {"ticket_type": str(concert.public_id)}).status_code == 302
    with tenant(muni_a):
        assert list(Ticket.objects.values_list("pk", "status")) == [(ticket.pk, "valid")]

    # The issuer cancels from the ticket type's page; a ticket of another type's URL is 404.
    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    cancel = f"/{muni_a.code}/staff/card-services/tickets/{concert.pk}/cancel/{ticket.pk}/"
    staff_page = staff.get(f"/{muni_a.code}/staff/card-services/tickets/{concert.pk}/").content.decode()
    assert "このチケットを取り消す" in staff_page and "取消済みのチケットで入場" in staff_page
    assert staff.post(cancel.replace(f"/{ticket.pk}/", f"/{ticket.pk + 999}/")).status_code == 404
    assert staff.post(cancel).status_code == 302
    with tenant(muni_a):
        ticket.refresh_from_db()
        assert ticket.status == "cancelled"
        assert AuditEvent.objects.filter(action="citizencard.ticket_cancelled").count() == 2
    assert client.post(cancel).status_code in (302, 403)  # not for a resident
