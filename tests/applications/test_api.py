"""The applications JSON API in-process: the whole flow with a card's signature through the
ceremony API, idempotency, authentication (session + CSRF, bearer tokens with the scope),
object-level authorization and bad input. tests/applications/test_api_server.py runs it
over HTTP against a real server with schemathesis."""

import base64
import copy
import datetime as dt
import json

import pytest
from django.test import Client

from madoguchi.applications.models import Application, Notice
from madoguchi.applications.services import today_in_japan
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant

from .conftest import link, make_person
from .helpers import JUMINHYO, PDF, PNG, RISAI, card_cms, key, synthetic_number, wrong_check_digit
from .test_pages import signed_in
from tests.ceremonies.conftest import HANAKO, taro_record  # noqa: F401  (fixture)
from tests.oidc.conftest import browser, fresh_key_cache, make_rp, register  # noqa: F401  (fixtures)

API = "/{code}/api/applications"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Api:
    """A resident's client of the API: the session cookie with its CSRF token, or a bearer token."""

    def __init__(self, code, client=None, token=None):
        self.base = API.format(code=code)
        self.code = code
        self.client = client or Client(enforce_csrf_checks=True)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        if token is None and client is not None:
            session = self.client.get(self.base + "/session")
            assert session.status_code == 200, session.content
            self.headers = {"X-CSRFToken": session.json()["csrf_token"]}

    def __call__(self, method, path, body=None, headers=None, **kwargs):
        headers = {**self.headers, **(headers or {})}
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
        if body is not None:
            kwargs.setdefault("content_type", "application/json")
            kwargs["data"] = body
        return self.client.generic(method, self.base + path, headers=headers, **kwargs)


def resident(code, municipality, person) -> Api:
    return Api(code, signed_in(Client(enforce_csrf_checks=True), municipality, person))


def card_signs(code, opened, card, document: bytes):
    """The card client: fetch the ceremony, sign the document with the card's key, complete."""
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{opened['id']}").json()
    assert description["purpose"] == "sign"
    assert description["document"]["sha256"] == __import__("hashlib").sha256(document).hexdigest()
    cms = card_cms(card, document, opened["id"], unb64(description["challenge"]), description["audience"])
    return reader.post(f"/{code}/api/ceremonies/{opened['id']}/complete",
                       json.dumps({"audience": description["audience"], "cms": b64(cms)}),
                       content_type="application/json")


def error_of(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error", "message", "errors"}, body
    assert body["message"] and isinstance(body["errors"], dict)
    if code is not None:
        assert body["error"] == code, body
    return body


def test_catalog_and_definitions_are_public_per_municipality(client, catalog_a, muni_b):
    base = API.format(code=catalog_a.code)
    listed = client.get(base + "/procedures").json()
    assert len(listed) == 11 and {p["slug"] for p in listed} >= {"juminhyo-copy", "tenshutsu", "jidou-teate"}
    found = client.get(base + "/procedures", {"q": "住民票"}).json()
    assert [p["slug"] for p in found] == ["juminhyo-copy"]
    one = client.get(base + "/procedures/juminhyo-copy").json()
    assert one["assurance"] == "signature" and one["fee"]["kind"] == "per_copy"
    assert "properties" in one["schema"] and one["form"]["sections"]
    error_of(client.get(base + "/procedures/nope"), 404, "not_found")
    # Another municipality has no such procedure (its catalog is not installed).
    error_of(client.get(API.format(code=muni_b.code) + "/procedures/juminhyo-copy"), 404, "not_found")
    assert client.get(API.format(code=muni_b.code) + "/procedures").json() == []
    openapi = client.get(base + "/openapi.json").json()
    assert set(openapi["components"]["securitySchemes"]) == {"ResidentBearer", "ResidentSession"}
    assert "ErrorOut" in openapi["components"]["schemas"]


def test_every_private_operation_needs_a_resident(client, catalog_a, taro):
    base = API.format(code=catalog_a.code)
    for method, path in [("GET", "/session"), ("GET", "/drafts"), ("POST", "/drafts"), ("GET", "/applications"),
                         ("GET", "/notices"), ("GET", "/procedures/juminhyo-copy/prefill")]:
        response = client.generic(method, base + path, "{}", content_type="application/json")
        body = error_of(response, 401, "unauthorized")
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "ログイン" in body["message"]


def test_a_session_needs_the_csrf_token_on_unsafe_methods(catalog_a, muni_b, taro):
    code = catalog_a.code
    browser = signed_in(Client(enforce_csrf_checks=True), catalog_a, taro)
    base = API.format(code=code)
    refused = browser.post(base + "/drafts", json.dumps({"procedure": "risai-shoumei", "data": RISAI}),
                           content_type="application/json")
    error_of(refused, 403, "csrf")
    api = Api(code, browser)
    session = api("GET", "/session").json()
    assert session["auth"] == "session" and session["assurance"] == "login" and len(session["csrf_token"]) >= 32
    assert api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI}).status_code == 201
    # The session of one municipality is nobody at another.
    error_of(browser.get(API.format(code=muni_b.code) + "/session"), 401, "unauthorized")


def test_the_whole_signed_flow_with_idempotent_submission(catalog_a, taro, pki):
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    prefill = api("GET", "/procedures/juminhyo-copy/prefill").json()
    assert prefill["data"]["applicant_name"] == "窓口　太郎" and not prefill["support_measure"]
    valid = api("POST", "/procedures/juminhyo-copy/validate", {"data": JUMINHYO})
    assert valid.json() == {"valid": True, "fee_yen": 600, "needs_signature": True}
    created = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {**JUMINHYO, "copies": 1}})
    assert created.status_code == 201
    draft = created.json()
    assert draft["status"] == "draft" and draft["needs_signature"] and draft["fee_yen"] == 300
    updated = api("PUT", f"/drafts/{draft['id']}", {"data": JUMINHYO}).json()
    assert updated["fee_yen"] == 600 and updated["document_sha256"] != draft["document_sha256"]
    assert [d["id"] for d in api("GET", "/drafts").json()] == [draft["id"]]
    prepared = api("POST", f"/drafts/{draft['id']}/prepare").json()
    document = unb64(prepared["document"])
    assert json.loads(document)["data"]["copies"] == 2 and prepared["fee_yen"] == 600
    assert prepared["document_sha256"] == updated["document_sha256"]
    # Submitting without a signature is refused.
    k = key()
    error_of(api("POST", f"/drafts/{draft['id']}/submit", {}, headers={"Idempotency-Key": k}), 400,
             "signature_required")
    opened = api("POST", f"/drafts/{draft['id']}/sign")
    assert opened.status_code == 201
    opened = opened.json()
    assert opened["purpose"] == "sign" and opened["audience"] == f"{code}:portal"
    done = card_signs(code, opened, pki.taro, document)
    assert done.status_code == 200, done.content
    state = Client().get(opened["state_url"].split("testserver")[-1], headers={"X-Poll-Token": opened["poll_token"]})
    assert state.json()["status"] == "completed"
    body = {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]}
    submitted = api("POST", f"/drafts/{draft['id']}/submit", body, headers={"Idempotency-Key": k})
    assert submitted.status_code == 201, submitted.content
    application = submitted.json()
    assert application["id"] == draft["id"] and application["status"] == "payment_required"
    assert application["signed"] and application["receipt_number"].startswith(f"{today_in_japan().year}-")
    assert [(h["from_status"], h["to_status"]) for h in application["history"]] == [
        ("draft", "submitted"), ("submitted", "payment_required")]
    # A replay (a retried request) returns the same application with 200, and nothing new.
    again = api("POST", f"/drafts/{draft['id']}/submit", body, headers={"Idempotency-Key": k})
    assert again.status_code == 200 and again.json()["id"] == application["id"]
    assert api("POST", f"/drafts/{draft['id']}/submit", {"idempotency_key": k}).status_code == 200
    # The same key on another request is a conflict.
    other = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO}).json()
    error_of(api("POST", f"/drafts/{other['id']}/submit", body, headers={"Idempotency-Key": k}), 409,
             "idempotency_conflict")
    with tenant(catalog_a):
        assert Application.objects.exclude(status="draft").count() == 1
    # My applications, detail with history, notices.
    mine = api("GET", "/applications").json()
    assert [a["id"] for a in mine] == [application["id"]]
    detail = api("GET", f"/applications/{application['id']}").json()
    assert detail["withdrawable"] and not detail["correctable"]
    listed = api("GET", "/notices").json()
    assert {n["kind"] for n in listed} == {"submitted", "payment_required"}
    assert all(application["receipt_number"] in n["text"] for n in listed)
    read = api("POST", f"/notices/{listed[0]['id']}/read").json()
    assert read["read_at"] is not None
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="applications.notice_read").count() == 1
    withdrawn = api("POST", f"/applications/{application['id']}/withdraw").json()
    assert withdrawn["status"] == "withdrawn" and not withdrawn["withdrawable"]
    error_of(api("POST", f"/applications/{application['id']}/withdraw"), 409, "invalid_transition")
    # The other draft is discarded.
    assert api("DELETE", f"/drafts/{other['id']}").status_code == 204
    error_of(api("GET", f"/drafts/{other['id']}"), 404, "not_found")
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="applications.draft_deleted").count() == 1


def test_unsigned_procedures_in_one_request_and_attachments(catalog_a, taro, settings):
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    k = key()
    # 罹災証明書 needs a photo: one request without attachments gets a field message.
    body = error_of(api("POST", "/applications", {"procedure": "risai-shoumei", "data": RISAI},
                        headers={"Idempotency-Key": k}), 400, "invalid")
    assert "/attachments" in body["errors"]
    draft = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI}).json()
    upload = api.client.post(f"{api.base}/drafts/{draft['id']}/attachments", {"file": _file("photo.png", PNG)},
                             headers=api.headers)
    assert upload.status_code == 201, upload.content
    attached = upload.json()["attachments"]
    assert [(a["name"], a["type"], a["sanitisation"]) for a in attached] == [("photo.png", "image/png", "pending")]
    # Wrong type (a name does not make a PDF), and too large.
    wrong = api.client.post(f"{api.base}/drafts/{draft['id']}/attachments", {"file": _file("x.pdf", b"MZ\x90\0")},
                            headers=api.headers)
    assert "/attachments/1" in error_of(wrong, 400, "invalid")["errors"]
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 1000
    big = api.client.post(f"{api.base}/drafts/{draft['id']}/attachments", {"file": _file("big.pdf", PDF + b"0" * 200_000)},
                          headers=api.headers)
    error_of(big, 413, "too_large")
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    # Not multipart, or two files.
    error_of(api("POST", f"/drafts/{draft['id']}/attachments", {"file": "x"}), 400, "invalid")
    submitted = api("POST", f"/drafts/{draft['id']}/submit", {}, headers={"Idempotency-Key": k})
    assert submitted.status_code == 201 and submitted.json()["status"] == "submitted"
    url = submitted.json()["attachments"][0]["url"]
    download = api.client.get(url, headers=api.headers)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert download["Content-Type"] == "image/png" and "attachment" in download["Content-Disposition"]
    # Another resident sees nothing of it: the same 404 as for an id that never existed.
    other = make_person(HANAKO, None)
    link(catalog_a, other, "300001", household="H7")
    stranger = resident(code, catalog_a, other)
    for path in [f"/applications/{draft['id']}", url.replace(api.base, ""), f"/drafts/{draft['id']}",
                 "/applications/00000000-0000-0000-0000-000000000000", "/applications/not-a-uuid"]:
        assert error_of(stranger("GET", path), 404, "not_found")["message"] == error_of(
            stranger("GET", "/applications/00000000-0000-0000-0000-000000000000"), 404)["message"]
    error_of(stranger("POST", f"/applications/{draft['id']}/withdraw"), 404, "not_found")
    error_of(stranger("POST", f"/drafts/{draft['id']}/submit", {}, headers={"Idempotency-Key": key()}), 404)
    assert stranger("GET", "/applications").json() == []
    # One request for a procedure without attachments (粗大ごみ: a fee, household rule).
    data = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "items": "タンス1", "small_items": 1, "large_items": 0,
            "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat()}
    k2 = key()
    first = api("POST", "/applications", {"procedure": "sodai-gomi", "data": data, "idempotency_key": k2})
    assert first.status_code == 201 and first.json()["status"] == "payment_required"
    replay = api("POST", "/applications", {"procedure": "sodai-gomi", "data": data}, headers={"Idempotency-Key": k2})
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    error_of(api("POST", "/applications", {"procedure": "sodai-gomi", "data": {**data, "small_items": 2}},
                 headers={"Idempotency-Key": k2}), 409, "idempotency_conflict")
    error_of(api("POST", "/applications", {"procedure": "sodai-gomi", "data": data}, headers={"Idempotency-Key": key()}),
             409, "duplicate")
    error_of(api("POST", "/applications", {"procedure": "juminhyo-copy", "data": JUMINHYO},
                 headers={"Idempotency-Key": key()}), 400, "signature_required")


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_bad_input_answers_json_with_field_messages_and_stores_nothing(catalog_a, muni_b, taro, settings):
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    with tenant(catalog_a):
        before = Application.objects.count()
    # Schema violations, with JSON pointers.
    body = error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {**JUMINHYO, "copies": 0}}),
                    400, "invalid")
    assert "/copies" in body["errors"]
    # Unknown fields in the request, missing ones, wrong types.
    body = error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO, "admin": True}),
                    400, "invalid")
    assert body["errors"] == {"/admin": ["この項目は受け付けていません。"]}
    assert "/data" in error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy"}), 400, "invalid")["errors"]
    assert "/data" in error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": [1]}), 400)["errors"]
    # NUL bytes and control characters, in values and keys.
    body = error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy",
                                            "data": {**JUMINHYO, "applicant_name": "窓口\u0000太郎"}}), 400, "invalid")
    assert "/applicant_name" in body["errors"]
    error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {**JUMINHYO, "x\u0000": 1}}), 400)
    # Not JSON at all; a huge body.
    error_of(api("POST", "/drafts", b"{not json"), 400)
    error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {"x": "あ" * 1_000_000}}), 413, "too_large")
    # A closed procedure, and one that exists only at another municipality.
    from madoguchi.procedures.services import catalog_dir, install

    definition = json.loads((catalog_dir() / "sodai-gomi.json").read_text(encoding="utf-8"))
    closed = copy.deepcopy(definition)
    closed["open_period"] = {"until": "2020-03-31"}
    install(catalog_a, closed)
    error_of(api("POST", "/procedures/sodai-gomi/validate", {"data": {}}), 409, "closed")
    install(muni_b, {**definition, "slug": "mihon-only"})
    error_of(api("POST", "/drafts", {"procedure": "mihon-only", "data": {}}), 404, "not_found")
    # An invalid individual number (wrong check digit).
    jidou = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
             "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
             "applicant_mynumber": wrong_check_digit(synthetic_number(21)), "has_spouse": False,
             "children": [{"name": "窓口　一郎", "birth_date": "2015-05-05", "relationship": "child",
                           "mynumber": synthetic_number(22), "living_together": True}],
             "bank_code": "0001", "branch_code": "001", "account_type": "ordinary", "account_number": "1234567",
             "account_holder_kana": "マドグチ　タロウ"}
    response = api("POST", "/drafts", {"procedure": "jidou-teate", "data": jidou})
    body = error_of(response, 400, "invalid")
    assert "/applicant_mynumber" in body["errors"]
    assert jidou["applicant_mynumber"] not in response.content.decode()
    # Bad idempotency keys.
    draft = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI}).json()
    for bad in ["short", "x" * 65, "has space in it 123456", "ああああああああああああああああ"]:
        error_of(api("POST", f"/drafts/{draft['id']}/submit", {"idempotency_key": bad}), 400)
    error_of(api("POST", f"/drafts/{draft['id']}/submit", {}), 400, "invalid_idempotency_key")
    error_of(api("POST", f"/drafts/{draft['id']}/submit", {"idempotency_key": key()},
                 headers={"Idempotency-Key": key()}), 400, "invalid_idempotency_key")
    # Row ids out of range are a 400/404, never a server error.
    error_of(api("POST", "/notices/99999999999999999999/read"), 400)
    error_of(api("POST", "/notices/12345/read"), 404)
    with tenant(catalog_a):
        assert Application.objects.count() == before + 1  # the one draft above


def test_tampered_and_misdirected_signatures_are_refused(catalog_a, taro, hanako, pki):
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    one = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO}).json()
    two = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {**JUMINHYO, "copies": 1}}).json()
    document_one = unb64(api("POST", f"/drafts/{one['id']}/prepare").json()["document"])
    # A tampered CMS: the ceremony API refuses it; there is nothing to submit.
    opened = api("POST", f"/drafts/{one['id']}/sign").json()
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{opened['id']}").json()
    cms = bytearray(card_cms(pki.taro, document_one, opened["id"], unb64(description["challenge"]),
                             description["audience"]))
    cms[-5] ^= 0xFF
    done = reader.post(f"/{code}/api/ceremonies/{opened['id']}/complete",
                       json.dumps({"audience": description["audience"], "cms": b64(bytes(cms))}),
                       content_type="application/json")
    assert done.status_code == 400
    submit = {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]}
    error_of(api("POST", f"/drafts/{one['id']}/submit", submit, headers={"Idempotency-Key": key()}), 403, "forbidden")
    # A signature over other data: the ceremony of draft one used for draft two.
    opened = api("POST", f"/drafts/{one['id']}/sign").json()
    assert card_signs(code, opened, pki.taro, document_one).status_code == 200
    submit = {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]}
    error_of(api("POST", f"/drafts/{two['id']}/submit", submit, headers={"Idempotency-Key": key()}), 400,
             "signature_mismatch")
    # Another resident's card (Hanako signs Taro's draft): the ceremony is hers, not his.
    opened = api("POST", f"/drafts/{one['id']}/sign").json()
    assert card_signs(code, opened, pki.hanako, document_one).status_code == 200
    submit = {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]}
    error_of(api("POST", f"/drafts/{one['id']}/submit", submit, headers={"Idempotency-Key": key()}), 403,
             "wrong_signer")
    # A wrong poll token.
    opened = api("POST", f"/drafts/{one['id']}/sign").json()
    assert card_signs(code, opened, pki.taro, document_one).status_code == 200
    error_of(api("POST", f"/drafts/{one['id']}/submit", {"ceremony_id": opened["id"], "poll_token": "x" * 43},
                 headers={"Idempotency-Key": key()}), 403, "forbidden")
    with tenant(catalog_a):
        assert not Application.objects.exclude(status="draft").exists()
    # Signing a procedure that needs none.
    risai = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI}).json()
    error_of(api("POST", f"/drafts/{risai['id']}/sign"), 409, "signature_not_needed")


def test_correction_flow_signed_again(catalog_a, taro, pki, reviewer_shimin):
    from madoguchi.applications.services import transition

    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    draft = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO}).json()
    document = unb64(api("POST", f"/drafts/{draft['id']}/prepare").json()["document"])
    opened = api("POST", f"/drafts/{draft['id']}/sign").json()
    card_signs(code, opened, pki.taro, document)
    api("POST", f"/drafts/{draft['id']}/submit", {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]},
        headers={"Idempotency-Key": key()})
    with tenant(catalog_a):
        application = Application.objects.get(public_id=draft["id"])
    error_of(api("PUT", f"/applications/{draft['id']}/correction", {"data": JUMINHYO}), 409, "invalid_transition")
    transition(application, "received", role="system")  # the fee is paid (what payments does)
    transition(application, "returned", role="reviewer", actor=reviewer_shimin, comment="部数を1部にしてください")
    detail = api("GET", f"/applications/{draft['id']}").json()
    assert detail["correctable"] and detail["return_comment"] == "部数を1部にしてください"
    error_of(api("POST", f"/applications/{draft['id']}/correction/sign"), 409, "no_correction")
    correction = api("PUT", f"/applications/{draft['id']}/correction", {"data": {**JUMINHYO, "copies": 1}}).json()
    assert correction["corrects"] == draft["id"] and correction["fee_yen"] == 300
    assert api("GET", "/drafts").json() == []  # a correction draft is reached through its application
    opened = api("POST", f"/applications/{draft['id']}/correction/sign").json()
    corrected = unb64(api("POST", f"/drafts/{correction['id']}/prepare").json()["document"])
    # Unsigned resubmission is refused; the old ceremony cannot be used again.
    error_of(api("POST", f"/applications/{draft['id']}/correction/submit", {}), 400, "signature_required")
    assert card_signs(code, opened, pki.taro, corrected).status_code == 200
    done = api("POST", f"/applications/{draft['id']}/correction/submit",
               {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "resubmitted" and body["data"]["copies"] == 1
    assert body["history"][-1]["to_status"] == "resubmitted" and body["history"][-1]["signed"]
    assert body["correction_draft"] is None


def test_bearer_tokens_need_the_applications_scope(make_rp, browser, pki, catalog_a, muni_b, taro_record, register):
    from django.core.exceptions import ValidationError as DjangoValidationError

    from tests.oidc.flow import follow

    from tests.ceremonies.test_flows import sign_in

    code = catalog_a.code
    sign_in(browser, code, "identify", pki.taro)  # his card is linked once, at the portal
    rp = make_rp(scopes=("applications",))
    callback, consent, purposes = follow(browser, rp.authorization_url("openid applications"), pki.taro)
    assert "申請" in consent
    token = rp.finish(callback)["token"]
    assert set(token["scope"].split()) == {"openid", "applications"}
    api = Api(code, Client(), token=token["access_token"])
    assert api("GET", "/session").json() == {"auth": "bearer", "assurance": "identify", "csrf_token": None}
    # No CSRF token needed with a bearer token.
    created = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO})
    assert created.status_code == 201, created.content
    assert [d["id"] for d in api("GET", "/drafts").json()] == [created.json()["id"]]
    # A token without the scope; a garbage token; another municipality's URL.
    plain = make_rp(scopes=())
    callback, _, _ = follow(browser, plain.authorization_url("openid"), pki.taro)
    other = Api(code, Client(), token=plain.finish(callback)["token"]["access_token"])
    error_of(other("GET", "/drafts"), 403, "insufficient_scope")
    error_of(Api(code, Client(), token="x" * 43)("GET", "/drafts"), 401, "unauthorized")
    error_of(Api(muni_b.code, Client(), token=token["access_token"])("GET", "/drafts"), 401, "unauthorized")
    # Only the municipality's own services may be registered with the scope.
    with pytest.raises(DjangoValidationError):
        register(scopes=("applications",), basis="signature_verifier")


def test_rate_limits_on_submit_and_prepare(catalog_a, taro, settings):
    settings.APPLICATION_API_RATE = 3
    api = resident(catalog_a.code, catalog_a, taro)
    codes = [api("POST", "/procedures/risai-shoumei/validate", {"data": RISAI}).status_code for _ in range(5)]
    assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]  # (no photo: 400 field message)
    error_of(api("POST", "/procedures/risai-shoumei/validate", {"data": RISAI}), 429, "rate_limited")
