"""An individual number typed into a free-text field (issue 13, finding 10): the resident is
warned before anything is stored as typed, and it is masked in the stored data — and in the
document they sign — unless they confirm it is not one. Through the JSON API and the pages."""

import datetime as dt
import json

from django.db import connection

from madoguchi.applications.models import Application
from madoguchi.applications.services import today_in_japan
from madoguchi.municipalities.tenancy import tenant
from tests.individual_numbers import numbers_in, scan_django

from .helpers import JUMINHYO, PNG, RISAI, as_typed, key, masked, synthetic_number
from .test_api import error_of, resident, unb64
from .test_pages import signed_in

NUMBER = synthetic_number(41)     # a demo number: tests/last fails if it is stored anywhere
NOT_ONE = synthetic_number(5041)  # valid too, but the resident says it is not theirs (not a demo number)
SODAI = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
         "items": "タンス1", "small_items": 1, "large_items": 0,
         "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat()}
WARNING = "マイナンバー（個人番号）と思われる12桁の番号があります。マイナンバーはこの欄に書かないでください。"


def stored_anywhere(number) -> list[str]:
    return scan_django(connection, {number})


def test_the_api_asks_first_names_the_field_and_stores_nothing(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    data = {**RISAI, "damage_details": f"床上30cm。申請者番号 {as_typed(NUMBER)} を記入"}
    sodai = {**SODAI, "items": f"タンス1 {NUMBER[:4]} {NUMBER[4:8]} {NUMBER[8:]}"}
    with tenant(catalog_a):
        before = Application.objects.count()
    for method, path, body, pointer in [
        ("POST", "/drafts", {"procedure": "risai-shoumei", "data": data}, "/damage_details"),
        ("POST", "/procedures/sodai-gomi/validate", {"data": sodai}, "/items"),
        ("POST", "/applications", {"procedure": "sodai-gomi", "data": sodai}, "/items"),
    ]:
        response = api(method, path, body, headers={"Idempotency-Key": key()})
        answer = error_of(response, 400, "individual_number_in_text")
        assert answer["errors"] == {pointer: [WARNING]}
        assert not numbers_in(response.content.decode(), {NUMBER})  # never echoed
    # Another free-text field is found too; a legal My Number field is not free text.
    answer = error_of(api("POST", "/drafts", {"procedure": "risai-shoumei",
                                              "data": {**RISAI, "disaster": f"台風 {NUMBER}"}}), 400)
    assert list(answer["errors"]) == ["/disaster"]
    with tenant(catalog_a):
        assert Application.objects.count() == before
    assert stored_anywhere(NUMBER) == []


def test_mask_stores_and_signs_the_masked_text(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    data = {**RISAI, "damage_details": f"番号 {NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]} 以上"}
    draft = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": data, "individual_number_in_text": "mask"})
    assert draft.status_code == 201, draft.content
    assert draft.json()["data"]["damage_details"] == f"番号 {masked(NUMBER)} 以上"
    # The bytes to sign hold the mask: masked before signing, never after.
    upload = api.client.post(f"{api.base}/drafts/{draft.json()['id']}/attachments", {"file": _file("p.png", PNG)},
                             headers=api.headers)
    assert upload.status_code == 201, upload.content
    prepared = api("POST", f"/drafts/{draft.json()['id']}/prepare")
    assert prepared.status_code == 200, prepared.content
    document = json.loads(unb64(prepared.json()["document"]))
    assert document["data"]["damage_details"] == f"番号 {masked(NUMBER)} 以上"
    assert "not_individual_numbers" not in document
    # Updating the draft without an answer asks again; with it, the draft is replaced.
    updated = api("PUT", f"/drafts/{draft.json()['id']}", {"data": {**data, "damage_details": NUMBER}})
    assert error_of(updated, 400, "individual_number_in_text")["errors"] == {"/damage_details": [WARNING]}
    # A procedure that is signed: the document offered for signature holds the mask.
    signed = api("POST", "/drafts", {"procedure": "juminhyo-copy", "individual_number_in_text": "mask",
                                     "data": {**JUMINHYO, "applicant_address": f"本町1-1（{NUMBER}）"}})
    assert signed.status_code == 201, signed.content
    document = unb64(api("POST", f"/drafts/{signed.json()['id']}/prepare").json()["document"]).decode()
    assert masked(NUMBER) in document and not numbers_in(document, {NUMBER})
    # One request (no files needed for 粗大ごみ) with the answer.
    sodai = {**SODAI, "items": f"タンス1（{as_typed(NUMBER)}）"}
    applied = api("POST", "/applications", {"procedure": "sodai-gomi", "data": sodai, "individual_number_in_text": "mask"},
                  headers={"Idempotency-Key": key()})
    assert applied.status_code == 201, applied.content
    assert applied.json()["data"]["items"] == f"タンス1（{masked(NUMBER)}）"
    assert stored_anywhere(NUMBER) == []


def test_keep_records_the_confirmation_in_the_signed_document(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    data = {**RISAI, "damage_details": f"保険証券番号 {NOT_ONE}"}
    draft = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": data, "individual_number_in_text": "keep"})
    assert draft.status_code == 201, draft.content
    draft_id = draft.json()["id"]
    assert draft.json()["data"]["damage_details"] == f"保険証券番号 {NOT_ONE}"
    upload = api.client.post(f"{api.base}/drafts/{draft_id}/attachments", {"file": _file("p.png", PNG)},
                             headers=api.headers)
    assert upload.status_code == 201, upload.content
    document = json.loads(unb64(api("POST", f"/drafts/{draft_id}/prepare").json()["document"]))
    assert document["not_individual_numbers"] == ["/damage_details"]
    # Submitting re-checks the draft from its own document: the confirmation holds.
    submitted = api("POST", f"/drafts/{draft_id}/submit", {}, headers={"Idempotency-Key": key()})
    assert submitted.status_code == 201, submitted.content
    with tenant(catalog_a):
        application = Application.objects.get(public_id=draft_id)
    assert application.data["damage_details"] == f"保険証券番号 {NOT_ONE}"
    assert json.loads(bytes(application.document))["not_individual_numbers"] == ["/damage_details"]


def test_a_wrong_answer_is_a_field_error(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    response = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI, "individual_number_in_text": "yes"})
    assert "/individual_number_in_text" in error_of(response, 400, "invalid")["errors"]


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def _form(**changes):
    form = {k: v for k, v in RISAI.items() if k != "damage"} | {"damage": RISAI["damage"], "copies": "1"}
    return {**form, **changes}


def test_the_pages_warn_mask_by_default_and_let_the_resident_edit_or_confirm(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    code = catalog_a.code
    apply = f"/{code}/procedures/risai-shoumei/apply/"
    typed = f"床上浸水。{as_typed(NUMBER)}"
    warned = client.post(apply, {**_form(damage_details=typed), "attachments": _file("屋根.png", PNG)})
    assert warned.status_code == 200
    page = warned.content.decode()
    assert "「被害の状況（具体的に）」に、マイナンバー（個人番号）と思われる12桁の番号があります。" in page
    assert WARNING in page and 'aria-invalid="true"' in page
    assert 'name="individual_number_in_text" value="mask"' in page and 'value="keep"' in page
    # The draft already exists — masked, files kept — and the form goes on with it.
    with tenant(catalog_a):
        draft = Application.objects.get(status="draft")
    assert draft.data["damage_details"] == f"床上浸水。{masked(NUMBER)}"
    assert f'action="?draft={draft.public_id}"' in page
    assert stored_anywhere(NUMBER) == []
    # Go on with the mask: the review page shows it; submitted, it is what was signed and stored.
    went_on = client.post(f"{apply}?draft={draft.public_id}", _form(damage_details=typed, individual_number_in_text="mask"))
    assert went_on.status_code == 302 and went_on["Location"].endswith(f"/applications/{draft.public_id}/review/")
    review = client.get(went_on["Location"]).content.decode()
    assert masked(NUMBER) in review and "屋根.png" in review
    assert client.post(went_on["Location"]).status_code == 302
    with tenant(catalog_a):
        application = Application.objects.get(public_id=draft.public_id)
    assert application.status == "submitted"
    assert json.loads(bytes(application.document))["data"]["damage_details"] == f"床上浸水。{masked(NUMBER)}"
    assert stored_anywhere(NUMBER) == []


def test_the_pages_keep_a_number_the_resident_says_is_not_one_or_take_the_edit(client, catalog_a, taro):
    signed_in(client, catalog_a, taro)
    apply = f"/{catalog_a.code}/procedures/risai-shoumei/apply/"
    typed = f"共済の証書番号 {NOT_ONE}"
    warned = client.post(apply, {**_form(damage_details=typed), "attachments": _file("a.png", PNG)})
    assert warned.status_code == 200 and WARNING in warned.content.decode()
    with tenant(catalog_a):
        draft = Application.objects.get(status="draft")
    kept = client.post(f"{apply}?draft={draft.public_id}", _form(damage_details=typed, individual_number_in_text="keep"))
    assert kept.status_code == 302
    draft.refresh_from_db()
    assert draft.data["damage_details"] == typed
    # Edited instead (the number taken out), the ordinary button goes straight to the review.
    edited = client.post(f"{apply}?draft={draft.public_id}", _form(damage_details="共済の証書は後日提出"))
    assert edited.status_code == 302
    draft.refresh_from_db()
    assert draft.data["damage_details"] == "共済の証書は後日提出"


def test_a_correction_asks_first_and_signs_the_masked_text(client, catalog_a, taro, pki, reviewer_shimin):
    from madoguchi.applications import services

    from .helpers import sign

    with tenant(catalog_a):
        version = services.published("juminhyo-copy")
    application, _ = services.submit(version, taro, JUMINHYO, idempotency_key=key(),
                                     signed=sign(pki.taro, version, taro, JUMINHYO))
    services.transition(application, "received", role="system")  # the fee is paid (what payments does)
    services.transition(application, "returned", role="reviewer", actor=reviewer_shimin, comment="住所を確認してください")
    signed_in(client, catalog_a, taro)
    where = f"/{catalog_a.code}/applications/{application.public_id}/correct/"
    post = {**JUMINHYO, "copies": "2", "applicant_address": f"本町一丁目1番1号 {as_typed(NUMBER)}"}
    warned = client.post(where, post)
    assert warned.status_code == 200
    page = warned.content.decode()
    assert "「住所」に、マイナンバー（個人番号）と思われる12桁の番号があります。" in page and WARNING in page
    with tenant(catalog_a):
        assert services.correction_draft(application) is None  # nothing stored before the answer
    opened = client.post(where, {**post, "individual_number_in_text": "mask"})
    assert opened.status_code == 302 and "/ceremony/" in opened["Location"]
    with tenant(catalog_a):
        document = services.signed_document(services.correction_draft(application)).decode()
    # What the card will sign is the masked text.
    assert f"本町一丁目1番1号 {masked(NUMBER)}" in document and not numbers_in(document, {NUMBER})
    assert stored_anywhere(NUMBER) == []
