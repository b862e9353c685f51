"""Lone (unpaired) UTF-16 surrogates — `"\\ud800"` as a JSON escape — in every JSON body of
the applications API, in values and in keys: a 400 naming the field by its JSON pointer,
nothing stored (it was a 500: UnicodeEncodeError while sizing or canonicalising the data).
The ceremony API and the procedure editor have their own tests (tests/ceremonies,
tests/procedures)."""

import json

import pytest

from madoguchi.applications import services
from madoguchi.applications.models import Application
from madoguchi.municipalities.tenancy import tenant

from .helpers import RISAI, key
from .test_api import error_of, resident

LONE = "\\ud800"  # the six characters of the JSON escape, as a client sends them
MESSAGE = "使えない文字（対になっていないサロゲート）が含まれています。"


def body_with_lone_surrogate(value: dict) -> str:
    """JSON text with `SURROGATE` replaced by an unpaired high-surrogate escape."""
    text = json.dumps(value, ensure_ascii=False).replace("SURROGATE", LONE)
    assert LONE in text
    return text


@pytest.mark.parametrize("method, path, body, pointer", [
    ("POST", "/drafts", {"procedure": "risai-shoumei", "data": {**RISAI, "disaster": "台風SURROGATE"}}, "/disaster"),
    ("POST", "/drafts", {"procedure": "risai-shoumei", "data": {**RISAI, "xSURROGATE": "1"}}, "/x\ufffd"),
    ("POST", "/drafts", {"procedure": "risai-SURROGATE", "data": RISAI}, "/procedure"),
    ("POST", "/procedures/risai-shoumei/validate", {"data": {**RISAI, "disaster": "SURROGATE"}}, "/disaster"),
    ("POST", "/procedures/risai-shoumei/validate", {"data": {**RISAI, "damage": ["fire", "SURROGATE"]}},
     "/damage/1"),
    ("POST", "/applications", {"procedure": "risai-shoumei", "data": {**RISAI, "applicant_address": "SURROGATE"}},
     "/applicant_address"),
    ("POST", "/applications", {"procedure": "risai-shoumei", "data": RISAI, "idempotency_key": "SURROGATE"},
     "/idempotency_key"),
    ("POST", "/applications", {"procedure": "risai-shoumei", "data": RISAI, "SURROGATE": 1}, "/\ufffd"),
])
def test_the_api_names_the_field_with_a_lone_surrogate(catalog_a, taro, method, path, body, pointer):
    api = resident(catalog_a.code, catalog_a, taro)
    with tenant(catalog_a):
        before = Application.objects.count()
    response = api(method, path, body_with_lone_surrogate(body), headers={"Idempotency-Key": key()})
    answer = error_of(response, 400, "invalid")
    assert answer["errors"] == {pointer: [MESSAGE]}
    with tenant(catalog_a):
        assert Application.objects.count() == before


def test_a_draft_update_correction_and_submission_body_too(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    draft = api("POST", "/drafts", {"procedure": "risai-shoumei", "data": RISAI})
    assert draft.status_code == 201, draft.content
    draft_id = draft.json()["id"]
    updated = api("PUT", f"/drafts/{draft_id}", body_with_lone_surrogate({"data": {**RISAI, "phone": "SURROGATE"}}))
    assert error_of(updated, 400, "invalid")["errors"] == {"/phone": [MESSAGE]}
    submitted = api("POST", f"/drafts/{draft_id}/submit",
                    body_with_lone_surrogate({"ceremony_id": "SURROGATE", "poll_token": "x"}),
                    headers={"Idempotency-Key": key()})
    assert error_of(submitted, 400, "invalid")["errors"] == {"/ceremony_id": [MESSAGE]}
    corrected = api("PUT", "/applications/00000000-0000-0000-0000-000000000000/correction",
                    body_with_lone_surrogate({"data": {"SURROGATE": {"a": "SURROGATE"}}}))
    assert error_of(corrected, 400, "invalid")["errors"] == {"/\ufffd": [MESSAGE]}
    # The draft kept its data.
    assert api("GET", f"/drafts/{draft_id}").json()["data"]["phone"] == RISAI["phone"]


def test_a_surrogate_pair_is_one_character_and_welcome(catalog_a, taro):
    api = resident(catalog_a.code, catalog_a, taro)
    text = json.dumps({"procedure": "risai-shoumei", "data": {**RISAI, "disaster": "台風 EMOJI"}}).replace(
        "EMOJI", "\\ud83c\\udf00")  # 🌀 escaped as a pair
    response = api("POST", "/drafts", text)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["disaster"] == "台風 \U0001f300"


def test_services_refuse_it_before_encoding_the_data(catalog_a, taro):
    """The services' own check, for callers that are not the API (it used to fail in the
    size check with UnicodeEncodeError)."""
    with tenant(catalog_a), pytest.raises(services.ApplicationError) as refused:
        services.prepare(services.published("risai-shoumei"), taro, {**RISAI, "disaster": "\ud800", "\udfff": 1})
    assert refused.value.code == "invalid"
    assert set(refused.value.errors) == {"/disaster", "/\ufffd"}
