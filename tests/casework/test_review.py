"""The review page and the decisions: the application with its labels, the signature panel
(at verification and now), the resident-record match, attachments, comments, individual
numbers, and every transition through the state machine with its role checks."""

import re

import pytest

from madoguchi.applications.models import Application, Notice
from madoguchi.applications.services import Upload, resubmit, submit
from madoguchi.audit.models import AuditEvent
from madoguchi.casework.models import CaseComment
from madoguchi.municipalities.tenancy import tenant
from tests.applications.conftest import TARO, link, make_person, version_of
from tests.applications.helpers import PNG, RISAI, key, sign, synthetic_number
from tests.ceremonies.softcard import SoftCard

from .helpers import bulk_rows, submit_signed, tenshutsu_data

URL = "/139998/staff/applications/{}/"


def url(application, tail=""):
    return URL.format(application.public_id) + tail


def events(municipality, action):
    with tenant(municipality):
        return list(AuditEvent.objects.filter(action=action).order_by("seq"))


@pytest.fixture
def tenshutsu(catalog_a, pki, taro):
    return submit_signed(catalog_a, "tenshutsu", taro, pki.taro, tenshutsu_data())


def test_the_review_page_shows_data_signature_and_match(tenshutsu, staff):
    response = staff("reviewer").client.get(url(tenshutsu))
    assert response.status_code == 200
    body = response.content.decode()
    assert "転入先の市区町村" in body and "千代田区" in body  # labels from the definition
    signature = response.context["signature"]
    assert signature["valid"] and signature["facts"]["name"] == TARO.name
    assert signature["chain"][0]["serial"] and len(signature["chain"]) == 2
    assert signature["revocation"]["source"] == "crl"
    assert signature["current"]["ok"] and "explanation" not in signature
    match = response.context["match"]
    assert match["record"].resident_number == "100001" and match["differences"] == 0
    assert "すべて一致しています" in body
    # The household members moving are named as the resident chose them, not by number.
    [movers] = [r for section in response.context["rows"] for r in section["rows"] if r["label"] == "引越しする世帯の方"]
    assert movers["value"] == TARO.name


def test_a_certificate_revoked_after_the_move_is_explained(catalog_a, pki, staff):
    card = SoftCard(pki.ca.issue_card(TARO))
    person = make_person(TARO, card)
    record = link(catalog_a, person, "200001", household="H9")
    application = submit_signed(catalog_a, "tenshutsu", person, card,
                                {**tenshutsu_data(), "movers": [record.resident_number]})
    pki.ca.revoke(card.issued.sign_cert.serial_number)
    pki.publish_crls()
    signature = staff("reviewer").client.get(url(application)).context["signature"]
    assert signature["valid"]  # as verified when it was stored
    assert signature["current"]["verdict"] == "revoked"
    assert "想定どおり" in signature["explanation"]


def test_differences_with_the_resident_record_are_highlighted(tenshutsu, staff):
    from madoguchi.residents.models import ResidentRecord

    with tenant(tenshutsu.municipality):
        record = ResidentRecord.objects.get(resident_number="100001")
        record.address = "東京都窓口市本町九丁目9番9号"
        record.save()
    response = staff("reviewer").client.get(url(tenshutsu))
    match = response.context["match"]
    assert match["differences"] == 1
    assert [r["label"] for r in match["rows"] if not r["same"]] == ["住所"]
    assert 'class="is-different"' in response.content.decode()


def test_return_resubmit_approve_complete(catalog_a, pki, taro, tenshutsu, staff, client):
    reviewer = staff("reviewer").client
    assert reviewer.post(url(tenshutsu, "transition/"), {"target": "received"}).status_code == 302
    refused = reviewer.post(url(tenshutsu, "transition/"), {"target": "returned", "comment": ""})
    assert refused.status_code == 400 and "理由を入力" in refused.content.decode()
    assert reviewer.post(url(tenshutsu, "transition/"),
                         {"target": "returned", "comment": "電話番号を確認してください。"}).status_code == 302
    with tenant(catalog_a):
        assert Application.objects.get(pk=tenshutsu.pk).status == "returned"
        assert Notice.objects.filter(application=tenshutsu, kind="returned").exists()
    # Not allowed from "returned": the resident answers first.
    assert reviewer.post(url(tenshutsu, "transition/"), {"target": "approved"}).status_code == 409
    corrected = tenshutsu_data(phone="03-1111-2222")
    version = version_of(catalog_a, "tenshutsu")
    resubmit(tenshutsu, taro, corrected, signed=sign(pki.taro, version, taro, corrected))
    for target in ("received", "approved", "completed"):
        assert reviewer.post(url(tenshutsu, "transition/"), {"target": target}).status_code == 302, target
    actions = [e.action for e in events(catalog_a, "applications.approved")]
    assert actions == ["applications.approved"]
    with tenant(catalog_a):
        assert Application.objects.get(pk=tenshutsu.pk).status == "completed"
    page = reviewer.get(url(tenshutsu)).content.decode()
    assert "電話番号を確認してください。" in page  # the history keeps the message
    assert "発行した文書はまだありません。" in page
    # The decision notice (issued by the worker in production) is linked from the review page.
    from madoguchi.documents import services as documents

    documents.ensure_demo(catalog_a)
    with tenant(catalog_a):
        notice = documents.issue(Application.objects.get(pk=tenshutsu.pk), "decision")
    page = reviewer.get(url(tenshutsu)).content.decode()
    link = f"/{catalog_a.code}/staff/documents/{notice.public_id}/"
    assert f'href="{link}"' in page and "決定通知書（承認）" in page
    pdf = reviewer.get(link)
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


@pytest.mark.parametrize("who, status", [("viewer", 403), ("admin", 403), ("kosodate", 404)])
def test_only_a_reviewer_of_the_department_acts(tenshutsu, staff, who, status):
    client = staff(who).client
    for tail, data in [("transition/", {"target": "received"}), ("assign/", {"assignee": "me"}),
                       ("comments/", {"body": "x"}), ("reveal/", {"pointer": "/x"})]:
        assert client.post(url(tenshutsu, tail), data).status_code == status, tail
    assert client.get(url(tenshutsu)).status_code == (404 if who == "kosodate" else 200)
    with tenant(tenshutsu.municipality):
        assert Application.objects.get(pk=tenshutsu.pk).status == "submitted"
        assert not CaseComment.objects.exists()


def test_assign_to_self_another_and_refusals(tenshutsu, staff):
    reviewer, other = staff("reviewer"), staff("reviewer2")
    assert reviewer.client.post(url(tenshutsu, "assign/"), {"assignee": "me"}).status_code == 302
    with tenant(tenshutsu.municipality):
        assert Application.objects.get(pk=tenshutsu.pk).assignee_id == reviewer.user.pk
    assert reviewer.client.post(url(tenshutsu, "assign/"), {"assignee": other.user.pk}).status_code == 302
    with tenant(tenshutsu.municipality):
        assert Application.objects.get(pk=tenshutsu.pk).assignee_id == other.user.pk
    # A viewer, someone of another department, or garbage: refused with a message.
    for bad in (staff("viewer").user.pk, staff("kosodate").user.pk, "abc", "99999999"):
        response = reviewer.client.post(url(tenshutsu, "assign/"), {"assignee": bad})
        assert response.status_code == 400 and "panel--error" in response.content.decode()
    assert reviewer.client.post(url(tenshutsu, "assign/"), {"assignee": ""}).status_code == 400  # nobody chosen
    assert reviewer.client.post(url(tenshutsu, "assign/"), {"assignee": "none"}).status_code == 302
    with tenant(tenshutsu.municipality):
        assert Application.objects.get(pk=tenshutsu.pk).assignee_id is None
    assigned = events(tenshutsu.municipality, "casework.assigned")
    assert [e.data["assignee"] for e in assigned] == [reviewer.user.pk, other.user.pk, None]


def test_bulk_assign_and_transition(catalog_a, taro, staff):
    rows = bulk_rows(catalog_a, "tenshutsu", taro, 4)
    bulk_rows(catalog_a, "tenshutsu", taro, 1, status="completed")
    reviewer = staff("reviewer")
    with tenant(catalog_a):
        ids = [str(a.public_id) for a in Application.objects.filter(department_code="shimin")]
    response = reviewer.client.post("/139998/staff/applications/bulk/",
                                    {"ids": ids, "action": "assign", "assignee": reviewer.user.pk})
    assert response.status_code == 302
    response = reviewer.client.post("/139998/staff/applications/bulk/",
                                    {"ids": ids, "action": "transition", "target": "received"}, follow=True)
    text = response.content.decode()
    assert "4件を処理しました" in text and "今の状態（完了）" in text
    with tenant(catalog_a):
        assert Application.objects.filter(status="received", assignee=reviewer.user).count() == len(rows)
    assert len(events(catalog_a, "applications.received")) == 4
    # Bad input: nothing chosen, too many, not ids, an unknown action: a 400 with the message
    # in the inbox page, and nothing done.
    before = AuditEvent.unscoped.filter(municipality=catalog_a).count()
    for data, message in [({"action": "assign"}, "申請を選んでください。"),
                          ({"ids": ["nope"], "action": "assign"}, "申請の指定が正しくありません。"),
                          ({"ids": ids, "action": "explode"}, "この操作はできません。"),
                          ({"ids": [ids[0]] * 101, "action": "assign"}, "一度に処理できるのは100件までです。")]:
        response = reviewer.client.post("/139998/staff/applications/bulk/", data)
        assert response.status_code == 400, (data["action"], response.status_code)
        assert message in response.content.decode(), message
    assert AuditEvent.unscoped.filter(municipality=catalog_a).count() == before
    assert staff("viewer").client.post("/139998/staff/applications/bulk/",
                                       {"ids": ids, "action": "assign", "assignee": ""}).status_code == 403


def test_comments_are_internal_and_audited(tenshutsu, staff, taro, client):
    reviewer = staff("reviewer").client
    assert reviewer.post(url(tenshutsu, "comments/"), {"body": "住所の番地を電話で確認済み"}).status_code == 302
    assert reviewer.post(url(tenshutsu, "comments/"), {"body": "  "}).status_code == 400
    assert reviewer.post(url(tenshutsu, "comments/"), {"body": "あ" * 2001}).status_code == 400
    assert "住所の番地を電話で確認済み" in reviewer.get(url(tenshutsu)).content.decode()
    [event] = events(tenshutsu.municipality, "casework.commented")
    assert "住所" not in str(event.data)  # references only


def test_individual_numbers_masked_and_revealed_with_an_audit_event(catalog_a, pki, taro, staff):
    from tests.applications.test_mynumber import APPLICANT_NUMBER, jidou

    application = submit_signed(catalog_a, "jidou-teate", taro, pki.taro, jidou())
    client = staff("kosodate").client
    page = client.get(url(application)).content.decode()
    assert APPLICANT_NUMBER not in page and APPLICANT_NUMBER[:4] + " **** ****" in page
    response = client.post(url(application, "reveal/"), {"pointer": "/applicant_mynumber"})
    assert response.status_code == 200 and APPLICANT_NUMBER in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    [event] = events(catalog_a, "applications.mynumber_revealed")
    assert APPLICANT_NUMBER not in str(event.data)
    assert client.post(url(application, "reveal/"), {"pointer": "/nothing"}).status_code == 404
    assert staff("reviewer").client.post(url(application, "reveal/"), {"pointer": "/applicant_mynumber"}) \
        .status_code == 404  # another department


def real_png(text: str = "") -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_attachments_preview_and_download_check_permission(catalog_a, taro, staff):
    from madoguchi.applications.tasks import sanitise_pending

    original = real_png("撮影場所のメモ")
    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("写真.png", original)])
    with tenant(catalog_a):
        attachment = application.attachments.get()
    client = staff("kikikanri").client
    # Before 無害化 nothing is opened: the page says so and the download is refused.
    page = client.get(url(application)).content.decode()
    assert "無害化待ち" in page and "attachment-preview" not in page
    waiting = client.get(url(application, f"attachments/{attachment.pk}/"))
    assert waiting.status_code == 409 and "無害化の処理中" in waiting.content.decode()

    assert sanitise_pending(catalog_a) == {"clean": 1, "rejected": 0}
    page = client.get(url(application)).content.decode()
    assert re.search(r'<img class="attachment-preview" src="[^"]+/preview/"', page)
    download = client.get(url(application, f"attachments/{attachment.pk}/"))
    assert download.status_code == 200
    served = b"".join(download.streaming_content)
    assert served != original and served.startswith(b"\x89PNG") and "撮影場所".encode() not in served
    assert "attachment" in download["Content-Disposition"] and download["X-Content-Type-Options"] == "nosniff"
    preview = client.get(url(application, f"attachments/{attachment.pk}/preview/"))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert "sandbox" in preview["Content-Security-Policy"]
    assert client.get(url(application, f"attachments/{attachment.pk + 999}/")).status_code == 404
    assert staff("reviewer").client.get(url(application, f"attachments/{attachment.pk}/")).status_code == 404


def test_a_rejected_attachment_is_never_served(catalog_a, taro, staff):
    from madoguchi.applications.tasks import sanitise_pending

    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[Upload("壊れた.png", PNG)])  # a PNG signature and nothing readable
    assert sanitise_pending(catalog_a) == {"clean": 0, "rejected": 1}
    with tenant(catalog_a):
        attachment = application.attachments.get()
    client = staff("kikikanri").client
    page = client.get(url(application)).content.decode()
    assert "無害化できず" in page and "not a readable PNG" in page and "attachment-preview" not in page
    for path in (f"attachments/{attachment.pk}/", f"attachments/{attachment.pk}/preview/"):
        refused = client.get(url(application, path))
        assert refused.status_code == 409 and "補正を依頼" in refused.content.decode()


def test_individual_number_never_in_the_search_columns(catalog_a, pki, taro):
    from tests.applications.test_mynumber import APPLICANT_NUMBER, CHILD_NUMBER, jidou

    application = submit_signed(catalog_a, "jidou-teate", taro, pki.taro, jidou())
    with tenant(catalog_a):
        a = Application.objects.get(pk=application.pk)
    for column in (a.search_key, a.search_grams, a.applicant_name, a.applicant_kana):
        assert APPLICANT_NUMBER not in column and CHILD_NUMBER not in column
        assert APPLICANT_NUMBER[:4] not in column.replace(" ", "")  # not even the masked prefix
    assert synthetic_number(11) == APPLICANT_NUMBER


def test_review_page_names_places_and_dates_in_words(catalog_a, pki, taro, staff):
    """The individual numbers' places by the definition's labels, not JSON pointers, and the
    signer's birth date in the era with the Western year."""
    from tests.applications.test_mynumber import jidou

    application = submit_signed(catalog_a, "jidou-teate", taro, pki.taro, jidou())
    page = staff("kosodate").client.get(url(application)).content.decode()
    assert "<td>子（1人目）の子の個人番号</td>" in page
    assert "<td>請求者の個人番号</td>" in page
    assert "<code>/children" not in page and "<code>/applicant_mynumber" not in page
    assert "昭和55年4月1日（1980年4月1日）" in page  # the signer's (and the record's) birth date
    assert "<dd>1980-04-01</dd>" not in page
    assert "<dt>申請日時</dt><dd>令和" in page  # dates on the page in the era too


def test_pointer_labels():
    import json

    from madoguchi.procedures.labels import pointer_label
    from madoguchi.procedures.services import catalog_dir

    d = json.loads((catalog_dir() / "jidou-teate.json").read_text(encoding="utf-8"))
    assert pointer_label(d, "/children/0/mynumber") == "子（1人目）の子の個人番号"
    assert pointer_label(d, "/children/2") == "子（3人目）"
    assert pointer_label(d, "/applicant_mynumber") == "請求者の個人番号"
    assert pointer_label(d, "/nothing/0") == "/nothing/0"  # unknown: the pointer as it is
    assert pointer_label(d, "/children/0/nothing") == "/children/0/nothing"
