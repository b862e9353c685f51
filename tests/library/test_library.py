"""Library cards: libraries configured by staff, the resident's pairwise patron link (identify
first), the counter link, the library system's API, the SIP2 listener over a real socket, and
the done-when: a renewed virtual card gives the same patron number without a PIN."""

import base64
import datetime as dt
import json
import socket
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.card import virtual
from madoguchi.card.jpki import JpkiAP
from madoguchi.card.transport import Channel, VirtualTransport
from madoguchi.citizencard import services as citizencard
from madoguchi.identity.models import CardCredential, Person
from madoguchi.identity.services import CertificateRef, FourFacts, identify
from madoguchi.library import listener, services, sip2
from madoguchi.library.models import PatronLink
from madoguchi.municipalities.tenancy import tenant
from madoguchi.terminal.index import card_key
from tests.ceremonies.conftest import HANAKO, TARO, dev_pki, pki, taro_record  # noqa: F401  (fixtures)
from tests.conftest import sign_in


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def person_with_card(issued, facts=TARO) -> Person:
    person = Person.objects.create(verified_name=facts.name, verified_birth_date=facts.birth, verified_sex=facts.sex,
                                   verified_address=facts.address, verified_at=dt.datetime.now(dt.timezone.utc))
    ref = CertificateRef.from_der(der(issued.auth_cert))
    CardCredential.objects.create(person=person, purpose="auth", certificate=ref.der, sha256=ref.sha256,
                                  issuer_key_id=ref.issuer_key_id, serial=ref.serial, not_after=ref.not_after)
    return person


def resident_session(client, municipality, person, assurance="identify"):
    session = client.session
    now = int(time.time())
    session["resident"] = {"person": str(person.public_id), "municipality": municipality.pk,
                           "assurance": assurance, "since": now, "seen": now}
    session.save()


@pytest.fixture
def chuo(muni_a, admin_a, pki):
    with tenant(muni_a):
        citizencard.set_enabled(admin_a[0], "library", True)
        library, credential = services.create_library(admin_a[0], code="chuo", name="中央図書館")
    return library, credential


def api(client, code, library, credential, body, raw=False):
    data = body if raw else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {credential}"} if credential is not None else {}
    return client.post(f"/{code}/api/library/{library}/patron", data=data, content_type="application/json",
                       **headers)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- services --------------------------------------------------------------------------------

def test_pairwise_link_survives_in_the_person_and_differs_per_library(muni_a, admin_a, chuo, pki):
    library, _ = chuo
    with tenant(muni_a):
        taro = person_with_card(pki.taro.issued)
        east, _c = services.create_library(admin_a[0], code="east", name="東図書館")
        link = services.link(taro, "chuo", "０１２３－４５６７")  # full width and a hyphen, as printed
        assert link.patron_number == "01234567" and link.via == "resident"
        assert link.pseudonym == services.pseudonym(library, taro) != services.pseudonym(east, taro)
        assert str(taro.public_id) not in link.pseudonym and len(link.pseudonym) == 43
        with pytest.raises(services.LibraryError) as twice:
            services.link(taro, "chuo", "99999999")
        assert twice.value.field == "patron_number"
        hanako = person_with_card(pki.hanako.issued, HANAKO)
        with pytest.raises(services.LibraryError) as taken:  # one number, one person
            services.link(hanako, "chuo", "01234567")
        assert "別のカード" in taken.value.message
        for bad in ("", "12", "abc def!", "1" * 21, "番号"):
            with pytest.raises(services.LibraryError):
                services.link(hanako, "chuo", bad)
        with pytest.raises(services.LibraryError):
            services.link(hanako, "nowhere", "12345678")
        assert set(services.links_of(taro)) == {library.pk}
        assert services.unlink(taro, "chuo") and not services.unlink(taro, "chuo")
        actions = list(AuditEvent.objects.filter(action__startswith="library.").values_list("action", flat=True))
        assert actions == ["library.library_created", "library.library_created", "library.patron_linked",
                           "library.patron_unlinked"]
        citizencard.set_enabled(admin_a[0], "library", False)
        with pytest.raises(services.LibraryError):
            services.link(taro, "chuo", "01234567")


# -- the resident's page ---------------------------------------------------------------------

def test_portal_page_identify_first_field_errors_csrf(client, muni_a, muni_b, admin_a, chuo, pki):
    with tenant(muni_a):
        taro = person_with_card(pki.taro.issued)
    url = f"/{muni_a.code}/card-services/library/"
    assert Client().get(url).status_code == 302  # sign in first
    resident_session(client, muni_a, taro, assurance="login")
    assert url in client.get(f"/{muni_a.code}/card-services/").content.decode()  # the catalog points here
    page = client.get(url).content.decode()
    assert "本人確認をして登録する" in page and 'name="patron_number"' not in page
    step_up = client.post(url, {"action": "link", "library": "chuo", "patron_number": "12345678"})
    assert step_up.status_code == 302 and "/ceremony/" in step_up["Location"]  # an identify ceremony
    with tenant(muni_a):
        assert not PatronLink.objects.exists()
    resident_session(client, muni_a, taro)
    bad = client.post(url, {"action": "link", "library": "chuo", "patron_number": "12"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.content.decode()
    assert "半角の英数字4〜20文字" in bad.content.decode()
    assert client.post(url, {"action": "link", "library": "nope", "patron_number": "12345678"}).status_code == 400
    assert client.post(url, {"action": "link", "library": "chuo", "patron_number": "A-1234"}).status_code == 302
    page = client.get(url).content.decode()
    assert "A1234" in page and "中央図書館" in page and "登録を解除する" in page
    # CSRF: a POST without the token is refused.
    strict = Client(enforce_csrf_checks=True)
    resident_session(strict, muni_a, taro)
    assert strict.post(url, {"action": "unlink", "library": "chuo"}).status_code == 403
    # Another municipality: the session is not theirs, and their page lists none of A's libraries.
    assert client.get(f"/{muni_b.code}/card-services/library/").status_code == 302
    assert client.post(url, {"action": "unlink", "library": "chuo"}).status_code == 302
    assert client.post(url, {"action": "unlink", "library": "chuo"}).status_code == 400
    with tenant(muni_a):
        assert not PatronLink.objects.exists()


# -- staff -----------------------------------------------------------------------------------

def test_staff_add_library_counter_link_and_isolation(muni_a, muni_b, admin_a, admin_b, viewer_a, chuo, pki):
    library, _ = chuo
    staff = Client()
    assert sign_in(staff, muni_a, *admin_a).status_code == 302
    url = f"/{muni_a.code}/staff/library/"
    assert url in staff.get(f"/{muni_a.code}/staff/").content.decode()  # the staff menu
    assert staff.post(url, {"action": "create", "code": "Bad Code!", "name": "x"}).status_code == 400
    assert staff.post(url, {"action": "create", "code": "chuo", "name": "二つ目"}).status_code == 400
    made = staff.post(url, {"action": "create", "code": "north", "name": "北図書館"})
    assert made.status_code == 200 and "lib_" in made.content.decode()  # the credential, shown once
    with tenant(muni_a):
        taro = person_with_card(pki.taro.issued)
    pem = pki.taro.issued.auth_cert.public_bytes(serialization.Encoding.PEM).decode()
    form = {"action": "counter", "library": str(library.pk), "certificate": "garbage", "patron_number": "77777777"}
    bad = staff.post(url, form)
    assert bad.status_code == 400 and "電子証明書を読み取れません" in bad.content.decode()
    assert staff.post(url, dict(form, certificate=pem)).status_code == 302
    with tenant(muni_a):
        link = PatronLink.objects.get()
        assert link.via == "counter" and link.linked_by == admin_a[0]
        assert link.pseudonym == services.pseudonym(library, taro)
    detail = staff.get(f"{url}{library.pk}/")
    assert detail.status_code == 200 and "77777777" in detail.content.decode()
    rotated = staff.post(f"{url}{library.pk}/rotate/")
    assert rotated.status_code == 200 and "lib_" in rotated.content.decode()
    # Another municipality's administrator: not their library.
    other = Client()
    assert sign_in(other, muni_b, *admin_b).status_code == 302
    assert other.get(f"/{muni_b.code}/staff/library/{library.pk}/").status_code == 404
    assert other.post(f"/{muni_b.code}/staff/library/{library.pk}/rotate/").status_code == 404
    assert other.post(f"/{muni_b.code}/staff/library/", dict(form, certificate=pem)).status_code == 400
    # A viewer may link at the counter but not add libraries or see the links.
    viewer = Client()
    assert sign_in(viewer, muni_a, *viewer_a).status_code == 302
    assert viewer.post(url, {"action": "create", "code": "south", "name": "南"}).status_code == 400
    assert viewer.get(f"{url}{library.pk}/").status_code == 403


# -- the library system's API ------------------------------------------------------------------

def test_api_credential_body_and_answers(client, muni_a, muni_b, admin_a, chuo, pki):
    library, credential = chuo
    cert = der(pki.taro.issued.auth_cert)
    code = muni_a.code
    assert api(client, code, "chuo", None, {"certificate": b64(cert)}).status_code == 401
    wrong = api(client, code, "chuo", "lib_wrong", {"certificate": b64(cert)})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized" and wrong.json()["message"]
    assert api(client, code, "other", credential, {"certificate": b64(cert)}).status_code == 401
    assert api(client, muni_b.code, "chuo", credential, {"certificate": b64(cert)}).status_code == 401  # tenant
    assert client.get(f"/{code}/api/library/chuo/patron").status_code == 405
    for body in (b"not json", b"[]", b"{}", json.dumps({"certificate": "!!"}).encode(),
                 json.dumps({"certificate": b64(b"not a certificate")}).encode(),
                 json.dumps({"certificate": b64(cert), "card": "0" * 16}).encode(),
                 json.dumps({"card": "xyz"}).encode(), json.dumps({"certificate": 5}).encode()):
        answer = api(client, code, "chuo", credential, body, raw=True)
        assert answer.status_code == 400 and answer.json()["message"], body
    big = api(client, code, "chuo", credential, json.dumps({"certificate": "A" * 20000}), raw=True)
    assert big.status_code == 400 and "16KB" in big.json()["message"]
    unknown = api(client, code, "chuo", credential, {"certificate": b64(cert)})  # no Person has this card
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_linked"
    with tenant(muni_a):
        taro = person_with_card(pki.taro.issued)
    not_linked = api(client, code, "chuo", credential, {"certificate": b64(cert)})
    assert not_linked.status_code == 404 and "利用者番号が登録されていません" in not_linked.json()["message"]
    with tenant(muni_a):
        services.link(taro, library, "12345678")
    ok = api(client, code, "chuo", credential, {"certificate": b64(cert)})
    assert ok.status_code == 200 and ok.json()["patron_number"] == "12345678"
    assert ok.json()["patron"] == services.pseudonym(library, taro)
    by_key = api(client, code, "chuo", credential, {"card": f"{card_key(cert):016x}"})
    assert by_key.status_code == 200 and by_key.json()["patron_number"] == "12345678"
    assert api(client, code, "chuo", credential, {"card": "0" * 16}).status_code == 404
    with tenant(muni_a):
        citizencard.set_enabled(admin_a[0], "library", False)
    assert api(client, code, "chuo", credential, {"certificate": b64(cert)}).status_code == 403


# -- done when: the renewed virtual card, no PIN; a revoked one refused with the reason ----------

def read_auth_without_pin(directory) -> bytes:
    """What a self-checkout (the terminal agent's tap) reads: the auth certificate, no PIN."""
    return JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(directory)))).certificate("auth")


def identify_with(municipality, directory):
    """An identify ceremony's outcome: both certificates of the card linked to the Person."""
    ap = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(directory))))
    auth, sign = ap.certificate("auth"), ap.certificate_after_verify("sign", "MADO2026")
    facts = FourFacts(name=TARO.name, birth_date=TARO.birth, sex=TARO.sex, address=TARO.address)
    return identify(municipality, facts, CertificateRef.from_der(auth), CertificateRef.from_der(sign))


def test_the_renewed_virtual_card_gives_the_same_patron_number_without_a_pin(
        client, muni_a, admin_a, chuo, pki, taro_record, tmp_path):
    library, credential = chuo
    holder = virtual.Holder(name=TARO.name, address=TARO.address, birth=TARO.birth, sex=TARO.sex)
    first = virtual.issue(tmp_path / "first", pki.ca, holder, pin="1234", password="MADO2026", text_pin="5678")
    with tenant(muni_a):
        taro = identify_with(muni_a, first)
        services.link(taro, "chuo", "20260001")
    old = read_auth_without_pin(first)
    assert api(client, muni_a.code, "chuo", credential, {"certificate": b64(old)}).json()["patron_number"] == "20260001"
    # The card is renewed: a new card, new keys and certificates; the resident signs in with it
    # (identify joins it to the same Person through the resident record).
    renewed = virtual.issue(tmp_path / "renewed", pki.ca, holder, pin="1234", password="MADO2026", text_pin="5678")
    with tenant(muni_a):
        assert identify_with(muni_a, renewed) == taro
    new = read_auth_without_pin(renewed)
    assert new != old
    answer = api(client, muni_a.code, "chuo", credential, {"certificate": b64(new)})
    assert answer.status_code == 200 and answer.json()["patron_number"] == "20260001"
    assert answer.json()["patron"] == services.pseudonym(library, taro)
    # The old card is revoked when the new one is issued (keyCompromise here: it was lost).
    pki.ca.revoke(x509.load_der_x509_certificate(old).serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    refused = api(client, muni_a.code, "chuo", credential, {"certificate": b64(old)})
    assert refused.status_code == 403 and refused.json()["error"] == "revoked"
    assert refused.json()["reason"] == "keyCompromise" and "失効" in refused.json()["message"]
    assert "keyCompromise" in refused.json()["message"]
    assert api(client, muni_a.code, "chuo", credential, {"certificate": b64(new)}).status_code == 200


# -- SIP2 over a real socket --------------------------------------------------------------------

def sip2_request(card: str, credential: str, ao="chuo", seq="2") -> bytes:
    body = f"23001{sip2.transaction_date(dt.datetime.now(dt.timezone.utc))}AO{ao}|AA{card}|AC{credential}|AD|AY{seq}AZ"
    body = body.encode()
    return body + sip2.checksum(body).encode() + b"\r"


def read_reply(sock) -> bytes:
    data = b""
    while not data.endswith(b"\r"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def sip2_server(muni_a, monkeypatch):
    """The listener in threads of this process, sharing the test's database connection (as
    Django's LiveServerThread does with an in-memory SQLite database)."""
    from django.db import connections

    shared = connections["default"]
    shared.inc_thread_sharing()
    real = listener.handle_frame

    def on_shared_connection(municipality, frame):
        connections["default"] = shared
        return real(municipality, frame)

    monkeypatch.setattr(listener, "handle_frame", on_shared_connection)
    # The listener closes a thread's stale connection after each message; the shared one is the
    # test's transaction (autocommit off), which that check would close on PostgreSQL.
    monkeypatch.setattr(listener, "close_old_connections", lambda: None)
    server = listener.serve(muni_a.code, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    shared.dec_thread_sharing()


def test_sip2_patron_status_over_a_socket(muni_a, admin_a, chuo, pki, sip2_server):
    library, credential = chuo
    cert = der(pki.taro.issued.auth_cert)
    with tenant(muni_a):
        taro = person_with_card(pki.taro.issued)
        services.link(taro, library, "88887777")
    key = f"{card_key(cert):016x}"
    with socket.create_connection(sip2_server, timeout=10) as sock:
        sock.sendall(sip2_request(key, credential))
        reply = read_reply(sock)
        assert reply.startswith(b"24" + b" " * 14) and b"|AA88887777|" in reply and b"BLY|" in reply
        assert b"AY2AZ" in reply and sip2.checksum_ok(reply[:-1])
        # A bad checksum: Request SC Resend; the connection stays open.
        broken = bytearray(sip2_request(key, credential))
        broken[-3] = ord("0") if broken[-3] != ord("0") else ord("1")
        sock.sendall(bytes(broken))
        assert read_reply(sock) == sip2.RESEND
        # Not linked, and a wrong credential: a refusal with a screen message, never a crash.
        sock.sendall(sip2_request("0" * 16, credential))
        refused = read_reply(sock)
        assert refused.startswith(b"24YYYY") and b"BLN|" in refused and "登録".encode() in refused
        sock.sendall(sip2_request(key, "lib_wrong"))
        assert b"BLN|" in read_reply(sock)
        # Two messages in one packet are both answered, in order.
        sock.sendall(sip2_request(key, credential, seq="3") + sip2_request(key, credential, seq="4"))
        first = read_reply(sock)
        rest = first.split(b"\r", 1)[1] if first.count(b"\r") > 1 else read_reply(sock)
        assert b"AY3AZ" in first and b"AY4AZ" in (rest or first)
    # Malformed messages: 96 each; after five in a row the listener closes the connection.
    with socket.create_connection(sip2_server, timeout=10) as sock:
        for _ in range(5):
            sock.sendall(b"garbage\r")
            assert read_reply(sock) == sip2.RESEND
        assert sock.recv(10) == b""
    # A line without CR longer than 2 KB: closed.
    with socket.create_connection(sip2_server, timeout=10) as sock:
        sock.sendall(b"2" * 5000)
        assert read_reply(sock) == b""
    # The listener still answers after all that.
    with socket.create_connection(sip2_server, timeout=10) as sock:
        sock.sendall(sip2_request(key, credential))
        assert b"|AA88887777|" in read_reply(sock)


def test_sip2_revoked_card_is_reported_lost_with_the_reason(muni_a, admin_a, chuo, pki, sip2_server):
    library, credential = chuo
    card = pki.ca.issue_card(HANAKO)
    with tenant(muni_a):
        hanako = person_with_card(card, HANAKO)
        services.link(hanako, library, "55556666")
    pki.ca.revoke(card.auth_cert.serial_number, x509.ReasonFlags.key_compromise)
    pki.publish_crls()
    with socket.create_connection(sip2_server, timeout=10) as sock:
        sock.sendall(sip2_request(f"{card_key(der(card.auth_cert)):016x}", credential))
        reply = read_reply(sock)
    assert reply.startswith(b"24YYYYY") and b"BLN|" in reply and b"keyCompromise" in reply
    assert b"55556666" not in reply


def test_the_identify_ceremony_through_the_browser_then_the_link(client, muni_a, chuo, pki, taro_record):
    """login → the library page asks for identify → the card client completes it → back on the
    page with identify assurance → the link is made."""
    from tests.ceremonies.test_flows import card_completes, sign_in as ceremony_sign_in

    code = muni_a.code
    ceremony_sign_in(Client(), code, "identify", pki.taro)  # the card is linked once
    ceremony_sign_in(client, code, "login", pki.taro)  # this browser: login only
    url = f"/{code}/card-services/library/"
    assert "本人確認をして登録する" in client.get(url).content.decode()
    started = client.post(url, {"action": "identify"})
    ceremony_id = started["Location"].rstrip("/").rsplit("/", 1)[1]
    assert card_completes(code, ceremony_id, pki.taro).status_code == 200
    assert client.get(f"/{code}/ceremony/{ceremony_id}/finish/")["Location"] == url
    assert 'name="patron_number"' in client.get(url).content.decode()
    assert client.post(url, {"action": "link", "library": "chuo", "patron_number": "42424242"}).status_code == 302
    cert = der(pki.taro.issued.auth_cert)
    assert api(Client(), code, "chuo", chuo[1], {"certificate": b64(cert)}).json()["patron_number"] == "42424242"


@pytest.mark.parametrize("verdict,status", [("expired", 403), ("untrusted", 403), ("wrong_purpose", 403),
                                            ("revocation_unknown", 503)])
def test_api_other_verdicts_refused_with_their_message(client, muni_a, chuo, pki, monkeypatch, verdict, status):
    from madoguchi.pki.validation import Result, Verdict

    class Judging:
        def validate(self, der_, purpose):
            return Result(Verdict(verdict), purpose=purpose, checked_at=dt.datetime.now(dt.timezone.utc), log="")

    monkeypatch.setattr(services, "validator", Judging)
    answer = api(client, muni_a.code, "chuo", chuo[1], {"certificate": b64(der(pki.taro.issued.auth_cert))})
    assert answer.status_code == status and answer.json()["error"] == verdict
    assert answer.json()["message"] == Result(Verdict(verdict), "auth", dt.datetime.now(), "").message_ja


def test_a_self_checkout_kiosk_is_a_library_terminal_with_no_offline_admissions(client, muni_a, admin_a, chuo, pki):
    from madoguchi.citizencard.models import TerminalEvent
    from madoguchi.terminal import signing
    from tests.citizencard.test_terminals import Gate, event

    key = signing.new_key()
    with tenant(muni_a):
        assert "library" in citizencard.terminal_services()
        terminal = citizencard.register_terminal(admin_a[0], name="自動貸出機", place="中央図書館", service_key="library",
                                                 public_key=signing.public_pem(key))
        with pytest.raises(citizencard.CitizenCardError) as refused:  # a ticket type is a gate's only
            citizencard.register_terminal(admin_a[0], name="x", place="", service_key="library",
                                          public_key=signing.public_pem(signing.new_key()), ticket_type_id=1)
        assert refused.value.field == "ticket_type"
    kiosk = Gate(client, muni_a.code, terminal.public_id, key)
    answer = kiosk.lists()
    assert answer.status_code == 200 and list(answer.json()["allow"]) == ["library"]
    assert base64.b64decode(answer.json()["allow"]["library"]) == b""  # the kiosk holds no patron
    card = card_key(der(pki.taro.issued.auth_cert))
    sent = [event(card, service="library"), event(card, "revoked", service="library")]
    assert kiosk.events(sent).json()["acknowledged"] == [e["id"] for e in sent]
    with tenant(muni_a):
        assert sorted(TerminalEvent.objects.values_list("outcome", flat=True)) == ["refused", "unknown"]
        assert AuditEvent.objects.filter(action="citizencard.terminal_registered").count() == 1
