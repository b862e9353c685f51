"""The resident pages: catalog, form with prefill and field errors, review, the `sign`
ceremony, receipt, my applications, notices, withdrawal — and nothing for anyone else."""

import datetime as dt
import json
import time

from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.identity import sessions
from madoguchi.municipalities.tenancy import tenant

from .conftest import link, make_person
from .helpers import card_cms
from tests.ceremonies.conftest import HANAKO


def signed_in(client, municipality, person):
    session = client.session
    now = int(time.time())
    session[sessions.KEY] = {"person": str(person.public_id), "municipality": municipality.pk, "assurance": "login",
                             "since": now, "seen": now}
    session.save()
    return client


def sodai_post(**changes):
    data = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "items": "タンス1", "small_items": "1", "large_items": "0",
            "collection_date": (dt.date.today() + dt.timedelta(days=10)).isoformat()}
    data.update(changes)
    return data


def test_catalog_search_and_procedure_page_are_public(client, catalog_a, muni_b):
    page = client.get(f"/{catalog_a.code}/procedures/")
    assert page.status_code == 200
    assert page.content.decode().count('class="card-link"') == 11
    found = client.get(f"/{catalog_a.code}/procedures/", {"q": "住民票"}).content.decode()
    assert "住民票の写し等の交付請求" in found and "粗大ごみ" not in found
    detail = client.get(f"/{catalog_a.code}/procedures/juminhyo-copy/").content.decode()
    assert "住民基本台帳法第12条" in detail and "300" in detail
    assert client.get(f"/{catalog_a.code}/procedures/nope/").status_code == 404
    assert client.get(f"/{muni_b.code}/procedures/juminhyo-copy/").status_code == 404
    assert "card-link" not in client.get(f"/{muni_b.code}/procedures/").content.decode()


def test_the_form_needs_a_signed_in_resident(client, catalog_a):
    response = client.get(f"/{catalog_a.code}/procedures/sodai-gomi/apply/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_prefill_from_the_verified_facts_and_none_under_support_measures(client, catalog_a, taro, pki):
    signed_in(client, catalog_a, taro)
    page = client.get(f"/{catalog_a.code}/procedures/juminhyo-copy/apply/").content.decode()
    assert 'value="窓口　太郎"' in page and "東京都窓口市本町一丁目1番1号</textarea>" in page
    protected = make_person(HANAKO)
    link(catalog_a, protected, "200001", household="H9", support=True)
    other = signed_in(Client(), catalog_a, protected)
    page = other.get(f"/{catalog_a.code}/procedures/juminhyo-copy/apply/").content.decode()
    # Nothing prefilled: the name only in the header's "signed in as" (from the card, to its holder).
    assert f'value="{HANAKO.name}"' not in page and HANAKO.address not in page
    assert page.count(HANAKO.name) == 1 and f'resident-bar__who">{HANAKO.name} さん' in page
    assert "支援措置" in page


def test_login_procedure_end_to_end_with_field_errors_idempotent_submit_and_withdrawal(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    bad = client.post(f"/{code}/procedures/sodai-gomi/apply/", sodai_post(small_items="-1", phone=""))
    assert bad.status_code == 400
    body = bad.content.decode()
    # The summary lists each problem naming its field, linked to the input, in the form's order.
    assert ('<li><a href="#f-phone">連絡先電話番号を入力してください。</a></li>'
            '<li><a href="#f-small-items">小型の点数（400円）は0以上の数を入力してください。</a></li>') in body
    assert 'data-error-summary' in body and 'aria-invalid="true"' in body
    with tenant(catalog_a):
        assert not Application.objects.exists()
    made = client.post(f"/{code}/procedures/sodai-gomi/apply/", sodai_post())
    assert made.status_code == 302 and made["Location"].endswith("/review/")
    review = client.get(made["Location"]).content.decode()
    assert "400円" in review and "タンス1" in review
    first = client.post(made["Location"])
    again = client.post(made["Location"])  # a double tap
    assert first.status_code == 302 and again.status_code == 302 and first["Location"] == again["Location"]
    with tenant(catalog_a):
        application = Application.objects.get()
    detail = client.get(first["Location"]).content.decode()
    assert application.receipt_number in detail and "支払い待ち" in detail
    assert application.receipt_number in client.get(f"/{code}/applications/").content.decode()
    notices = client.get(f"/{code}/applications/notices/").content.decode()
    assert f"手数料 400円のお支払いをお待ちしています（受付番号 {application.receipt_number}）" in notices
    # Nobody else sees it.
    stranger = make_person(HANAKO)
    link(catalog_a, stranger, "300001", household="H7")
    other = signed_in(Client(), catalog_a, stranger)
    assert other.get(first["Location"]).status_code == 404
    assert other.post(f"/{code}/applications/{application.public_id}/withdraw/").status_code == 404
    assert client.post(f"/{code}/applications/{application.public_id}/withdraw/").status_code == 302
    with tenant(catalog_a):
        application.refresh_from_db()
    assert application.status == "withdrawn"


def test_signature_procedure_through_the_sign_ceremony(client, catalog_a, taro, pki):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    form = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "self",
            "items": ["relationship"], "copies": "1", "purpose": "employment", "delivery": "registered"}
    made = client.post(f"/{code}/procedures/juminhyo-copy/apply/", form)
    assert made.status_code == 302, made.content.decode()[:2000]
    opened = client.post(made["Location"])
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"]
    ceremony_id = opened["Location"].rstrip("/").rsplit("/", 1)[1]
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}").json()
    assert description["purpose"] == "sign" and description["reason"] == "住民票の写し等の交付請求"
    import base64
    document = base64.urlsafe_b64decode(description["document"]["content"] + "==")
    cms = card_cms(pki.taro, document, ceremony_id, base64.urlsafe_b64decode(description["challenge"] + "=="),
                   description["audience"])
    done = reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete",
                       json.dumps({"audience": description["audience"],
                                   "cms": base64.urlsafe_b64encode(cms).decode().rstrip("=")}),
                       content_type="application/json")
    assert done.status_code == 200, done.content
    finish = client.get(f"/{code}/ceremony/{ceremony_id}/finish/")
    assert finish.status_code == 302 and finish["Location"].endswith("/signed/")
    receipt = client.get(finish["Location"])
    assert receipt.status_code == 302 and "/review/" not in receipt["Location"], receipt
    with tenant(catalog_a):
        application = Application.objects.get()
    assert application.status == "payment_required" and bytes(application.document) == document
    assert bytes(application.signature) == cms and application.verification["sign"]["verdict"] == "valid"
    assert application.receipt_number in client.get(receipt["Location"]).content.decode()


def complete_sign(client, code, ceremony_id, card, document):
    import base64
    reader = Client()
    description = reader.get(f"/{code}/api/ceremonies/{ceremony_id}").json()
    assert description["purpose"] == "sign"
    cms = card_cms(card, document, ceremony_id, base64.urlsafe_b64decode(description["challenge"] + "=="),
                   description["audience"])
    done = reader.post(f"/{code}/api/ceremonies/{ceremony_id}/complete",
                       json.dumps({"audience": description["audience"],
                                   "cms": base64.urlsafe_b64encode(cms).decode().rstrip("=")}),
                       content_type="application/json")
    assert done.status_code == 200, done.content
    return description


def test_my_number_procedure_signed_over_the_digest_only(client, catalog_a, taro, pki):
    from django.apps import apps

    from madoguchi.applications import services

    from .helpers import masked, synthetic_number, wrong_check_digit

    applicant, child, wrong = synthetic_number(21), synthetic_number(22), wrong_check_digit(synthetic_number(23))
    typed = f"{applicant[:4]} {applicant[4:8]} {applicant[8:]}"
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    form = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "applicant_mynumber": typed, "children-0-name": "窓口　一郎", "children-0-birth_date": "2015-05-05",
            "children-0-relationship": "child", "children-0-mynumber": child, "children-0-living_together": "on",
            "bank_code": "0001", "branch_code": "001", "account_type": "ordinary", "account_number": "1234567",
            "account_holder_kana": "マドグチ　タロウ"}
    bad = client.post(f"/{code}/procedures/jidou-teate/apply/", {**form, "children-0-mynumber": wrong})
    assert bad.status_code == 400 and "子の個人番号（子 1）が正しくありません。12桁の最後の1桁（検査用数字）が合いません。" in bad.content.decode()
    assert wrong not in bad.content.decode() and typed not in bad.content.decode()
    made = client.post(f"/{code}/procedures/jidou-teate/apply/", form)
    assert made.status_code == 302, made.content.decode()[:3000]
    review = client.get(made["Location"]).content.decode()
    assert masked(applicant) in review and applicant not in review
    draft_id = made["Location"].split("/")[-3]
    edit = client.get(f"/{code}/procedures/jidou-teate/apply/?draft={draft_id}")
    assert edit.status_code == 200 and 'value="窓口　一郎"' in edit.content.decode()
    assert applicant not in edit.content.decode() and child not in edit.content.decode()
    opened = client.post(made["Location"])
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"]
    ceremony_id = opened["Location"].rstrip("/").rsplit("/", 1)[1]
    with tenant(catalog_a):
        draft = Application.objects.get()
        document = services.signed_document(draft)
    description = complete_sign(client, code, ceremony_id, pki.taro, document)
    assert "content" not in description["document"]  # the card client never gets the numbers
    finish = client.get(f"/{code}/ceremony/{ceremony_id}/finish/")
    receipt = client.get(finish["Location"])
    assert receipt.status_code == 302 and "/review/" not in receipt["Location"]
    with tenant(catalog_a):
        application = Application.objects.get()
    assert application.status == "submitted" and application.verification["sign"]["verdict"] == "valid"
    found = []
    for model in apps.get_models():
        for row in model._base_manager.values():
            for column, value in row.items():
                text = bytes(value).decode("latin-1") if isinstance(value, memoryview | bytes) else str(value)
                if any(secret in text for secret in (applicant, child, applicant[4:], child[4:], wrong)):
                    found.append(f"{model._meta.label}.{column}")
    assert found == []


def test_attachments_through_the_pages_and_their_permission_checked_download(client, catalog_a, taro):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .helpers import PNG, RISAI

    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    form = {k: v for k, v in RISAI.items() if k != "damage"} | {"damage": RISAI["damage"], "copies": "1"}
    missing = client.post(f"/{code}/procedures/risai-shoumei/apply/", form)
    assert missing.status_code == 400 and "ファイルを1件以上添付してください。" in missing.content.decode()
    wrong = client.post(f"/{code}/procedures/risai-shoumei/apply/",
                        {**form, "attachments": SimpleUploadedFile("photo.png", b"MZ\x90\x00 not an image")})
    assert wrong.status_code == 400 and "このファイルの種類は添付できません。" in wrong.content.decode()
    made = client.post(f"/{code}/procedures/risai-shoumei/apply/",
                       {**form, "attachments": SimpleUploadedFile("屋根.png", PNG, content_type="text/plain")})
    assert made.status_code == 302, made.content.decode()[:2000]
    draft_id = made["Location"].split("/")[-3]
    # Correcting the form without choosing files again keeps the attachment.
    again = client.post(f"/{code}/procedures/risai-shoumei/apply/?draft={draft_id}", {**form, "copies": "2"})
    assert again.status_code == 302
    assert "屋根.png" in client.get(made["Location"]).content.decode()
    submitted = client.post(made["Location"])
    assert submitted.status_code == 302
    with tenant(catalog_a):
        application = Application.objects.get()
        item = application.attachments.get()
    assert application.status == "submitted" and application.data["copies"] == 2
    assert (item.name, item.content_type) == ("屋根.png", "image/png")
    url = f"/{code}/applications/{application.public_id}/attachments/{item.pk}/"
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert download["Content-Type"] == "image/png" and download["X-Content-Type-Options"] == "nosniff"
    assert "attachment;" in download["Content-Disposition"]
    stranger = make_person(HANAKO)
    link(catalog_a, stranger, "300002", household="H8")
    assert signed_in(Client(), catalog_a, stranger).get(url).status_code == 404
    assert Client().get(url).status_code == 302
    import json as _json
    document = _json.loads(bytes(application.document))
    assert document["attachments"] == [{"name": "屋根.png", "sha256": item.sha256, "size": len(PNG), "type": "image/png"}]


def test_a_second_open_application_from_the_pages_is_refused_and_bad_ids_are_404(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    form = {"applicant_name": "窓口　太郎", "applicant_name_kana": "まどぐち たろう", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "relation": "resident", "notify_by": "none"}
    first = client.post(f"/{code}/procedures/toshokan-riyou/apply/", form)
    second = client.post(f"/{code}/procedures/toshokan-riyou/apply/", form)  # two drafts are fine
    assert client.post(first["Location"]).status_code == 302
    refused = client.post(second["Location"])
    assert refused.status_code == 409 and "すでに受付中のものがあります" in refused.content.decode()
    with tenant(catalog_a):
        assert Application.objects.filter(status="submitted").count() == 1
    assert client.get(f"/{code}/procedures/toshokan-riyou/apply/?draft=not-a-uuid").status_code == 404
    assert client.get(f"/{code}/procedures/toshokan-riyou/apply/?draft=00000000-0000-0000-0000-000000000000").status_code == 404


def test_answering_a_return_for_correction_signed_again(client, catalog_a, taro, pki, reviewer_shimin):
    from madoguchi.applications import services

    from .helpers import JUMINHYO, key, sign

    version = version_of_slug(catalog_a, "juminhyo-copy")
    data = {**JUMINHYO, "copies": 1}
    application, _ = services.submit(version, taro, data, idempotency_key=key(), signed=sign(pki.taro, version, taro, data))
    services.transition(application, "received", role="system")  # the fee is paid (what payments does)
    services.transition(application, "returned", role="reviewer", actor=reviewer_shimin, comment="通数を2通にしてください")
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    detail = client.get(f"/{code}/applications/{application.public_id}/").content.decode()
    assert "通数を2通にしてください" in detail and "修正して再申請する" in detail
    form_page = client.get(f"/{code}/applications/{application.public_id}/correct/").content.decode()
    assert 'value="窓口　太郎"' in form_page
    post = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "household",
            "copies": "2", "purpose": "employment", "delivery": "registered"}
    opened = client.post(f"/{code}/applications/{application.public_id}/correct/", post)
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"]
    ceremony_id = opened["Location"].rstrip("/").rsplit("/", 1)[1]
    with tenant(catalog_a):
        draft = services.correction_draft(application)
        document = services.signed_document(draft)
        assert "corrects" not in client.get(f"/{code}/applications/").content.decode()
    complete_sign(client, code, ceremony_id, pki.taro, document)
    finish = client.get(f"/{code}/ceremony/{ceremony_id}/finish/")
    assert finish["Location"].endswith("/corrected/")
    done = client.get(finish["Location"])
    assert done.status_code == 302 and done["Location"].endswith(f"/applications/{application.public_id}/")
    with tenant(catalog_a):
        application.refresh_from_db()
        assert application.status == "resubmitted" and application.data["copies"] == 2
        assert bytes(application.document) == document and application.fee_yen == 600
        assert services.correction_draft(application) is None
        assert Application.objects.count() == 1
        assert application.events.get(to_status="resubmitted").signed


def version_of_slug(municipality, slug):
    from .conftest import version_of

    return version_of(municipality, slug)


def test_the_form_normalises_full_width_input_and_keeps_no_hidden_conditional_value(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    form = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "０３－１２３４－５６７８", "scope": "self",
            "copies": "２", "purpose": "employment", "purpose_other": "書いたが選ばなかった",
            "delivery": "registered", "mailing_postal_code": "100-0001", "mailing_address": "別の所"}
    made = client.post(f"/{code}/procedures/juminhyo-copy/apply/", form)
    assert made.status_code == 302, made.content.decode()[:2000]
    with tenant(catalog_a):
        draft = Application.objects.get()
        assert draft.data["phone"] == "03-1234-5678" and draft.data["copies"] == 2
        assert not {"purpose_other", "mailing_postal_code", "mailing_address"} & set(draft.data)


def test_a_group_grows_by_its_add_button_without_javascript_and_nothing_is_stored(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    page = client.get(f"/{code}/procedures/hoikusho-nyusho/apply/").content.decode()
    assert 'name="children-0-name"' in page and 'name="children-1-name"' not in page
    assert '<button type="submit" class="button group__add" name="add_row" value="children" formnovalidate>子を追加</button>' in page
    added = client.post(f"/{code}/procedures/hoikusho-nyusho/apply/",
                        {"children-0-name": "窓口　一郎", "children-0-birth_date": "2024-06-01", "add_row": "children"})
    body = added.content.decode()
    assert added.status_code == 200 and 'name="children-1-name"' in body and 'value="窓口　一郎"' in body
    assert "error-summary" not in body  # adding a block is not a submission: no errors yet
    removed = client.post(f"/{code}/procedures/hoikusho-nyusho/apply/",
                          {"children-0-name": "窓口　一郎", "children-1-name": "窓口　二郎", "remove_row": "children-0"})
    assert removed.status_code == 200 and 'value="窓口　二郎"' in removed.content.decode()
    assert 'value="窓口　一郎"' not in removed.content.decode()
    with tenant(catalog_a):
        assert not Application.objects.exists()
