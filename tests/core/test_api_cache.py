"""Issue 13, finding 9: every answer of the JSON APIs is `Cache-Control: private, no-store`.
The test walks every operation of both OpenAPI documents (the applications API and the
ceremony API), as nobody and as a signed-in resident with her own draft, application and
attachment, and checks the header on each answer — successes with her data and errors alike."""

import json
import re
import uuid

import pytest
from django.test import Client

from madoguchi.municipalities.tenancy import tenant
from tests.applications.conftest import app_settings, catalog_a, dev_pki, pki, taro  # noqa: F401  (fixtures)
from tests.applications.helpers import RISAI
from tests.applications.test_pages import signed_in
from tests.documents.conftest import submit_risai

DOCUMENTS = ("/{code}/api/applications/openapi.json", "/{code}/api/openapi.json")


def no_store(response) -> bool:
    return response.get("Cache-Control") == "private, no-store"


@pytest.fixture
def resident(catalog_a, taro):  # noqa: F811
    client = signed_in(Client(), catalog_a, taro)
    base = f"/{catalog_a.code}/api/applications"
    draft = client.post(base + "/drafts", json.dumps({"procedure": "risai-shoumei", "data": RISAI}),
                        content_type="application/json")
    assert draft.status_code == 201, draft.content
    application = submit_risai(catalog_a, taro)
    with tenant(catalog_a):
        attachment = application.attachments.get()
    return client, {"slug": "risai-shoumei", "draft_id": draft.json()["id"], "application_id": str(application.public_id),
                    "attachment_id": str(attachment.pk), "notice_id": "1", "ceremony_id": str(uuid.uuid4()),
                    # No document is issued without the worker: the download's 404 must be no-store too.
                    "document_id": str(uuid.uuid4())}


def operations(client, code):
    """(method, path template, concrete path) of every operation of both documents."""
    found = []
    for document in DOCUMENTS:
        url = document.format(code=code)
        answer = client.get(url)
        assert answer.status_code == 200 and no_store(answer), (url, answer.get("Cache-Control"))
        spec = answer.json()
        for path, item in spec["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "delete", "patch"):
                    found.append((method.upper(), path))
    return found


def test_every_operation_of_the_json_apis_answers_private_no_store(catalog_a, resident):
    client, ids = resident
    code = catalog_a.code
    walked = operations(client, code)
    assert len(walked) >= 29 and any("/ceremonies" in p for _, p in walked)  # both documents, not an empty walk
    ok = 0
    # The destructive ones last, so the others see the draft and application.
    for method, path in sorted(walked, key=lambda op: (op[0] == "DELETE", "withdraw" in op[1])):
        concrete = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        for who in (client, Client()):  # the resident, and nobody
            answer = who.generic(method, concrete, "{}", content_type="application/json")
            assert no_store(answer), (method, concrete, answer.status_code, answer.get("Cache-Control"))
            ok += 200 <= answer.status_code < 300
    assert ok >= 10  # answers with the resident's data among them, not only errors
    # Answers made outside any operation: an unknown path, an unknown municipality.
    for url in (f"/{code}/api/applications/nothing-here", f"/{code}/api/nothing", "/999999/api/applications/session"):
        answer = client.get(url)
        assert answer.status_code == 404 and no_store(answer), url


def test_the_resident_data_answers_carry_it(catalog_a, resident):
    """The ones that matter most, by name: who is signed in, her drafts and applications, notices."""
    client, ids = resident
    base = f"/{catalog_a.code}/api/applications"
    for path in ("/session", "/drafts", f"/drafts/{ids['draft_id']}", "/applications",
                 f"/applications/{ids['application_id']}", "/notices", "/procedures/risai-shoumei/prefill",
                 f"/applications/{ids['application_id']}/attachments/{ids['attachment_id']}"):
        answer = client.get(base + path)
        assert answer.status_code == 200 and no_store(answer), (path, answer.status_code, answer.get("Cache-Control"))
