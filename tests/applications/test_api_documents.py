"""The applications API's detail lists the signed documents issued for the application
(受付票, 決定通知書) with a download URL the same resident (session or bearer token) can use."""

import datetime as dt
import hashlib

import pytest

from madoguchi.applications.models import Application
from madoguchi.applications.services import today_in_japan
from madoguchi.documents import services as documents
from madoguchi.municipalities.tenancy import tenant

from .helpers import key
from .test_api import error_of, resident


@pytest.mark.django_db
def test_the_detail_lists_the_documents_with_their_download(catalog_a, taro, hanako, settings):
    settings.DOCUMENTS_AUTOMATIC = False  # issued below, in this process
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    data = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "items": "タンス1", "small_items": 1, "large_items": 0,
            "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat()}
    created = api("POST", "/applications", {"procedure": "sodai-gomi", "data": data}, headers={"Idempotency-Key": key()})
    assert created.status_code == 201, created.content
    assert created.json()["documents"] is None  # listed by the detail only (the submission's query budget)
    assert api("GET", f"/applications/{created.json()['id']}").json()["documents"] == []
    with tenant(catalog_a):
        issued = documents.issue(Application.objects.get(public_id=created.json()["id"]), "receipt")
    detail = api("GET", f"/applications/{created.json()['id']}").json()
    [listed] = detail["documents"]
    assert listed["id"] == str(issued.public_id) and listed["kind"] == "receipt" and listed["decision"] == ""
    assert listed["url"] == f"/{code}/api/applications/applications/{created.json()['id']}/documents/{issued.public_id}"
    pdf = api("GET", listed["url"].removeprefix(api.base))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    assert hashlib.sha256(body).hexdigest() == listed["sha256"] and len(body) == listed["size"]
    assert pdf["Cache-Control"] == "private, no-store"
    # Someone else, or a document id that is not this application's: 404, no hint.
    error_of(resident(code, catalog_a, hanako)("GET", listed["url"].removeprefix(api.base)), 404)
    error_of(api("GET", f"/applications/{created.json()['id']}/documents/00000000-0000-0000-0000-000000000000"), 404)
