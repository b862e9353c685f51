"""書かない窓口: the server verifies what the agent read (a forged record refused), matches the
resident record by name + birth date + sex, prefills the chosen procedures with the household,
files them all or none flagged as made at the counter, forgets the read data at close and by
the sweep; the pages: field errors, tries left, lockout, a card pulled out, no match, an
expired visit, another municipality's visit (404), CSRF; the agent's /face endpoint."""

import base64
import datetime as dt
import json
import threading
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from madoguchi.applications.models import Application
from madoguchi.audit.models import AuditEvent
from madoguchi.card import apdu as A
from madoguchi.card import virtual
from madoguchi.card.transport import TransportError, VirtualTransport
from madoguchi.counter import services
from madoguchi.counter.models import Visit, VisitProcedure
from madoguchi.identity.models import ResidentLink
from madoguchi.municipalities.tenancy import tenant
from madoguchi.residents.models import ResidentRecord
from madoguchi.terminal.agent import Agent, kiosk_server
from tests.conftest import sign_in

from .conftest import HOLDER, agent_read

TOSHOKAN = {"relation": "resident", "notify_by": "none"}
SODAI = {"phone": "03-0000-0000", "items": "タンス1", "small_items": 1, "large_items": 0,
         "collection_address": HOLDER.address}


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def read_visit(card, staff):
    card_dir, code = card
    raw = agent_read(card_dir, code)
    reading = services.verify_read(raw["record"], raw["cv_certificate"], raw["text_record"], code,
                                   raw["text_integrity"], raw["text_cv_certificate"])
    return reading, services.open_visit(staff, reading)


def test_verify_match_prefill_and_file_all(muni_a, admin_a, counter_setup, card):
    staff = admin_a[0]
    with tenant(muni_a):
        reading, visit = read_visit(card, staff)
        assert (reading.name, reading.birth_date, reading.sex) == (HOLDER.name, HOLDER.birth, "2")
        assert reading.photo_png.startswith(b"\x89PNG") and len(reading.card_hash) == 64
        assert visit.record_id == counter_setup.pk and "photo" not in json.dumps(visit.facts)
        items = services.choose(visit, staff, ["toshokan-riyou", "sodai-gomi"])
        toshokan = next(i for i in items if i.slug == "toshokan-riyou")
        assert toshokan.data["applicant_name"] == HOLDER.name
        assert toshokan.data["applicant_name_kana"] == "まどぐち　はなこ"
        assert toshokan.data["applicant_birth_date"] == "1990-01-02"
        for item in items:
            services.save_procedure(visit, item, {**item.data, **(TOSHOKAN if item.slug == "toshokan-riyou" else {
                **SODAI, "collection_date": (dt.date.today() + dt.timedelta(days=10)).isoformat()})})
        filed = services.file(visit, staff)
        assert len(filed) == 2
        for application in Application.objects.filter(pk__in=[a.pk for a in filed]):
            assert application.channel == "counter" and application.served_by == staff
            assert application.status in ("submitted", "payment_required") and application.receipt_number
        visit.refresh_from_db()
        assert visit.status == "filed" and visit.facts == {}
        assert all(p.data == {} for p in visit.procedures.all())
        assert ResidentLink.objects.get(record=counter_setup).method == "staff"
        actions = list(AuditEvent.objects.filter(action__startswith="counter.").values_list("action", flat=True))
        assert actions == ["counter.card_read", "counter.procedures_chosen", "counter.filed"]
        read = AuditEvent.objects.get(action="counter.card_read")
        assert read.data["card"] == reading.card_hash and HOLDER.name not in json.dumps(read.data, ensure_ascii=False)
        with pytest.raises(services.CounterError) as closed:
            services.visit_of(visit.public_id)
        assert closed.value.code == "expired"


def _pdf_text(data: bytes) -> tuple[str, int]:
    """(the text pdftotext reads, without spaces; the page count) of a PDF."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        text = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.replace("\u3000", "").split()), text.count("\f")


def test_every_paper_form_printed_in_one_pdf(client_admin_a, muni_a, admin_a, counter_setup, card):
    with tenant(muni_a):
        _reading, visit = read_visit(card, admin_a[0])
    url = f"/{muni_a.code}/staff/counter/{visit.public_id}/"
    nothing = client_admin_a.get(f"{url}forms.pdf")  # no procedure chosen yet: said on the visit page
    assert nothing.status_code == 409 and "紙に署名する手続きはありません" in nothing.content.decode()
    with tenant(muni_a):
        items = services.choose(visit, admin_a[0], ["toshokan-riyou", "sodai-gomi"])
        for item in items:
            services.save_procedure(visit, item, {**item.data, **(TOSHOKAN if item.slug == "toshokan-riyou" else {
                **SODAI, "collection_date": (dt.date.today() + dt.timedelta(days=10)).isoformat()})})
    page = client_admin_a.get(url).content.decode()
    assert 'id="print-all"' in page and "紙に署名する2件の申請書をまとめて印刷する" in page
    printed = client_admin_a.get(f"{url}forms.pdf")
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "counter-forms.pdf").write_bytes(printed.content)  # to look at
    text, pages = _pdf_text(printed.content)
    one, one_pages = _pdf_text(client_admin_a.get(f"{url}procedures/sodai-gomi/form.pdf").content)
    assert text.count("申請者の署名（自署）") == 2 and one.count("申請者の署名（自署）") == 1
    assert "図書館" in text and "粗大ごみ" in text and "図書館" not in one
    assert pages > one_pages  # each form on its own pages
    assert text.count("窓口花子") >= 2
    other = Client()
    assert other.get(f"{url}forms.pdf").status_code in (302, 403)  # staff only
    with tenant(muni_a):  # signed with the card: no paper signature, so not printed
        VisitProcedure.objects.filter(visit=visit, slug="sodai-gomi").update(signature=b"cms")
    text, _pages = _pdf_text(client_admin_a.get(f"{url}forms.pdf").content)
    assert text.count("申請者の署名（自署）") == 1 and "粗大ごみ" not in text
    assert 'id="print-all"' not in client_admin_a.get(url).content.decode()  # one form: its own button


def test_household_members_prefilled(muni_a, admin_a, counter_setup, card):
    with tenant(muni_a):
        _r, visit = read_visit(card, admin_a[0])
        assert [n for n, _name in services.household(visit)] == ["100001", "100002"]
        item = services.choose(visit, admin_a[0], ["tenshutsu"])[0]
        movers = [v for v in item.data.values() if isinstance(v, list)]
        assert movers == [["100001", "100002"]]


def test_nothing_filed_half(muni_a, admin_a, counter_setup, card):
    staff = admin_a[0]
    with tenant(muni_a):
        _r, visit = read_visit(card, staff)
        items = services.choose(visit, staff, ["toshokan-riyou", "sodai-gomi"])
        toshokan = next(i for i in items if i.slug == "toshokan-riyou")
        services.save_procedure(visit, toshokan, {**toshokan.data, **TOSHOKAN})
        sodai = next(i for i in items if i.slug == "sodai-gomi")
        with pytest.raises(services.CounterError) as incomplete:
            services.file(visit, staff)
        assert incomplete.value.code == "incomplete"
        # Marked complete, but the data no longer passes (a past collection date): refused at filing.
        VisitProcedure.objects.filter(pk=sodai.pk).update(complete=True, data={**sodai.data, **SODAI,
                                                                               "collection_date": "2000-01-01"})
        from madoguchi.applications.services import ApplicationError

        with pytest.raises(ApplicationError):
            services.file(visit, staff)
        assert Application.objects.count() == 0 and not ResidentLink.objects.exists()
        assert Visit.objects.get(pk=visit.pk).status == "open"


def test_forged_record_refused(muni_a, admin_a, counter_setup, card):
    card_dir, code = card
    raw = agent_read(card_dir, code)
    record = bytearray(base64.b64decode(raw["record"]))
    at = record.find(b"19900102")
    record[at:at + 8] = b"19900103"
    with tenant(muni_a):
        with pytest.raises(services.CounterError) as forged:
            services.verify_read(base64.b64encode(bytes(record)).decode(), raw["cv_certificate"], raw["text_record"],
                                 code, raw["text_integrity"], raw["text_cv_certificate"])
        assert forged.value.code == "forged" and "偽造" in str(forged.value)
        # The text AP's facts changed (birth date, or only the address): refused by its integrity record.
        for old, new in ((b"19900102", b"19900103"), ("本町".encode(), "末町".encode())):
            text = base64.b64decode(raw["text_record"]).replace(old, new)
            with pytest.raises(services.CounterError) as mixed:
                services.verify_read(raw["record"], raw["cv_certificate"], base64.b64encode(text).decode(), code,
                                     raw["text_integrity"], raw["text_cv_certificate"])
            assert mixed.value.code == "forged"
        # Without the integrity record the text is not trusted: "not read".
        with pytest.raises(services.CounterError) as missing:
            services.verify_read(raw["record"], raw["cv_certificate"], raw["text_record"], code, "", "")
        assert missing.value.code == "not_read"
        assert not Visit.objects.exists()


def test_no_issuer_key_configured(muni_a, counter_setup, card, settings):
    settings.COUNTER_DEMO_ISSUER_ALLOWED = False
    card_dir, code = card
    raw = agent_read(card_dir, code)
    with pytest.raises(services.CounterError) as none:
        services.verify_read(raw["record"], raw["cv_certificate"], raw["text_record"], code,
                             raw["text_integrity"], raw["text_cv_certificate"])
    assert none.value.code == "no_issuer"


def test_no_match_and_several(muni_a, admin_a, counter_setup, card):
    with tenant(muni_a):
        card_dir, code = card
        raw = agent_read(card_dir, code)
        reading = services.verify_read(raw["record"], raw["cv_certificate"], raw["text_record"], code,
                                       raw["text_integrity"], raw["text_cv_certificate"])
        ResidentRecord.objects.create(resident_number="100003", name=HOLDER.name, birth_date=HOLDER.birth, sex="2",
                                      address="別の住所")
        with pytest.raises(services.CounterError) as several:
            services.open_visit(admin_a[0], reading)
        assert several.value.code == "several"
        ResidentRecord.objects.all().delete()
        with pytest.raises(services.CounterError) as none:
            services.open_visit(admin_a[0], reading)
        assert none.value.code == "no_match" and not Visit.objects.exists()
        assert [e.data["matched"] for e in AuditEvent.objects.filter(action="counter.card_read")] == [2, 0]


def test_expiry_and_sweep(muni_a, admin_a, counter_setup, card):
    with tenant(muni_a):
        _r, visit = read_visit(card, admin_a[0])
        _r, other = read_visit(card, admin_a[0])
        services.choose(visit, admin_a[0], ["toshokan-riyou"])
        Visit.objects.filter(pk=visit.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.sweep() == 1
    with tenant(muni_a):
        visit.refresh_from_db()
        assert visit.status == "expired" and visit.facts == {} and visit.procedures.get().data == {}
        assert Visit.objects.get(pk=other.pk).facts["name"] == HOLDER.name
        assert AuditEvent.objects.filter(action="counter.visit_expired").count() == 1
        Visit.objects.filter(pk=other.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        with pytest.raises(services.CounterError) as expired:
            services.visit_of(other.public_id)
        assert expired.value.code == "expired" and Visit.objects.get(pk=other.pk).facts == {}


def test_bad_codes():
    with pytest.raises(services.CounterError) as short:
        services.code_from("123")
    assert short.value.field == "code_b"
    with pytest.raises(services.CounterError) as nothing:
        services.code_from("")
    assert nothing.value.field == "code_b"
    assert services.code_from("", dt.date(1980, 2, 17), 2035, "2285") == "55021720352285"


# -- the agent ------------------------------------------------------------------------------

def test_agent_wrong_code_lockout_and_card_removed(card):
    card_dir, code = card
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    card_ = virtual.VirtualCard(card_dir)
    with pytest.raises(A.WrongPin) as first:
        agent.read_face(wrong(code), transport=VirtualTransport(card_))
    tries = first.value.tries_left
    assert tries >= 1
    for _ in range(tries - 1):
        with pytest.raises(A.WrongPin):
            agent.read_face(wrong(code), transport=VirtualTransport(virtual.VirtualCard(card_dir)))
    with pytest.raises((A.PinBlocked, A.WrongPin)):
        agent.read_face(wrong(code), transport=VirtualTransport(virtual.VirtualCard(card_dir)))
    with pytest.raises(A.PinBlocked):
        agent.read_face(code, transport=VirtualTransport(virtual.VirtualCard(card_dir)))

    class Pulled(VirtualTransport):
        def transmit(self, apdu):
            raise TransportError("card removed")

    with pytest.raises(TransportError):
        Agent("http://127.0.0.1:1", "139998", "t", None, None).read_face(
            code, transport=Pulled(virtual.VirtualCard(card_dir)))


def _post(port, path, body, origin):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Origin": origin, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def test_kiosk_face_endpoint(card, monkeypatch):
    card_dir, code = card
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    real = agent.read_face
    monkeypatch.setattr(agent, "read_face",
                        lambda c: real(c, transport=VirtualTransport(virtual.VirtualCard(card_dir))))
    server = kiosk_server(agent, "http://counter.example")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        status, body, headers = _post(port, "/face", {"code_b": code}, "http://counter.example")
        assert status == 200 and set(body) == {"record", "cv_certificate", "text_record", "text_integrity",
                                               "text_cv_certificate"}
        assert headers["Access-Control-Allow-Origin"] == "http://counter.example"
        assert _post(port, "/face", {"code_b": code}, "http://evil.example")[0] == 403
        status, body, _h = _post(port, "/face", {"code_b": wrong(code)}, "http://counter.example")
        assert status == 409 and body["reason"] == "wrong_code" and body["tries_left"] >= 1
        status, body, _h = _post(port, "/face", {"code_b": "12"}, "http://counter.example")
        assert status == 409 and body["reason"] == "bad_code"
        parts = {"birth": HOLDER.birth.isoformat(), "expiry_year": int(code[6:10]), "security_code": code[10:]}
        assert _post(port, "/face", parts, "http://counter.example")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


# -- the pages --------------------------------------------------------------------------------

def _form(raw, code):
    return {"code_b": code, **raw}


def test_pages_read_choose_edit_screen_file(client_admin_a, muni_a, admin_a, counter_setup, card):
    card_dir, code = card
    base = f"/{muni_a.code}/staff/counter/"
    page = client_admin_a.get(base)
    assert page.status_code == 200 and "counter/counter.js" in page.content.decode()
    assert "http://127.0.0.1:8765" in page["Content-Security-Policy"]
    response = client_admin_a.post(base, _form(agent_read(card_dir, code), code))
    assert response.status_code == 201, response.content.decode()[:2000]
    text = response.content.decode()
    assert 'id="face-photo"' in text and "data:image/png;base64," in text and HOLDER.name in text
    with tenant(muni_a):
        visit = Visit.objects.get()
    url = f"{base}{visit.public_id}/"
    assert client_admin_a.post(url, {}).status_code == 400  # no procedure chosen
    assert client_admin_a.post(url, {"procedures": ["toshokan-riyou"]}).status_code == 302
    page = client_admin_a.get(url).content.decode()
    assert HOLDER.name in page and "data:image/png" not in page  # the photo is never shown again
    bad = client_admin_a.post(f"{url}procedures/toshokan-riyou/", {"applicant_name": HOLDER.name})
    assert bad.status_code == 400 and "error-summary" in bad.content.decode()
    good = client_admin_a.post(f"{url}procedures/toshokan-riyou/", {
        "applicant_name": HOLDER.name, "applicant_name_kana": "まどぐち　はなこ", "applicant_birth_date": "1990-01-02",
        "applicant_address": HOLDER.address, "relation": "resident", "notify_by": "none"})
    assert good.status_code == 302, good.content.decode()[:3000]
    printed = client_admin_a.get(f"{url}procedures/toshokan-riyou/form.pdf")
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
    assert printed.content.startswith(b"%PDF")
    screen = client_admin_a.get(f"{url}screen/")
    assert screen.status_code == 200 and "counter-screen" in screen.content.decode()
    assert HOLDER.name in screen.content.decode()
    filed = client_admin_a.post(f"{url}file/")
    assert filed.status_code == 200 and 'class="receipt"' in filed.content.decode()
    with tenant(muni_a):
        application = Application.objects.get()
    from madoguchi.staff.models import Department, Membership

    library = Department.unscoped.create(municipality=muni_a, code=application.department_code, name="図書館")
    Membership.unscoped.filter(user=admin_a[0]).update(department=library)
    inbox = client_admin_a.get(f"/{muni_a.code}/staff/applications/")
    assert application.receipt_number in inbox.content.decode() and 'class="tag"' in inbox.content.decode()
    review = client_admin_a.get(f"/{muni_a.code}/staff/applications/{application.public_id}/")
    assert review.status_code == 200 and 'id="channel"' in review.content.decode()
    assert admin_a[0].username in review.content.decode()
    assert client_admin_a.get(url).status_code == 410  # filed: its data is gone


def test_pages_errors(client_admin_a, muni_a, counter_setup, card):
    card_dir, code = card
    base = f"/{muni_a.code}/staff/counter/"
    short = client_admin_a.post(base, {"code_b": "123"})
    assert short.status_code == 400 and "field--error" in short.content.decode()
    not_read = client_admin_a.post(base, {"code_b": code})
    assert not_read.status_code == 409 and "読み取ってください" in not_read.content.decode()
    raw = agent_read(card_dir, code)
    forged = dict(raw, record=base64.b64encode(base64.b64decode(raw["record"]).replace(b"19900102", b"19900103"))
                  .decode())
    refused = client_admin_a.post(base, _form(forged, code))
    assert refused.status_code == 409 and "偽造" in refused.content.decode()
    with tenant(muni_a):
        ResidentRecord.objects.all().delete()
    none = client_admin_a.post(base, _form(raw, code))
    assert none.status_code == 409 and "一致する住民記録がありません" in none.content.decode()
    with tenant(muni_a):
        assert not Visit.objects.exists()


def test_tenant_isolation_csrf_and_roles(muni_a, muni_b, admin_a, admin_b, viewer_a, counter_setup, card):
    with tenant(muni_a):
        _r, visit = read_visit(card, admin_a[0])
    other = Client()
    sign_in(other, muni_b, *admin_b)
    assert other.get(f"/{muni_b.code}/staff/counter/{visit.public_id}/").status_code == 404
    assert other.get(f"/{muni_b.code}/staff/counter/{visit.public_id}/screen/").status_code == 404
    viewer = Client()
    sign_in(viewer, muni_a, *viewer_a)
    assert viewer.get(f"/{muni_a.code}/staff/counter/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    plain = Client()
    sign_in(plain, muni_a, *admin_a)
    strict.cookies = plain.cookies  # signed in, but posting without the CSRF token
    assert strict.get(f"/{muni_a.code}/staff/counter/{visit.public_id}/").status_code == 200
    assert strict.post(f"/{muni_a.code}/staff/counter/{visit.public_id}/file/").status_code == 403
    assert strict.post(f"/{muni_a.code}/staff/counter/{visit.public_id}/close/").status_code == 403
    with tenant(muni_a):
        assert Visit.objects.get(pk=visit.pk).status == "open"
    assert plain.post(f"/{muni_a.code}/staff/counter/{visit.public_id}/close/").status_code == 302
    with tenant(muni_a):
        assert Visit.objects.get(pk=visit.pk).facts == {}
        assert AuditEvent.objects.filter(action="counter.visit_closed").count() == 1
