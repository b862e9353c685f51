"""The 領収書: a payment's success hands its facts to the transition (payment_received), the
documents listener enqueues the 領収書, the worker's task renders and signs it (PAdES, the
signer registry); the resident and the owning department download it."""

import pytest
from django.conf import settings
from django_tasks_db.models import DBTaskResult

from madoguchi.audit.models import AuditEvent
from madoguchi.documents.models import Document
from madoguchi.documents.tasks import issue_document
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments import services
from madoguchi.pki import lgpki, pades
from tests.applications.test_pages import signed_in
from tests.browser.conftest import ARTIFACTS
from tests.conftest import sign_in
from tests.documents.test_documents import text_of

from .test_services import back, pay_at_demo


@pytest.fixture(autouse=True)
def signing(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = True
    from madoguchi.documents import services as documents

    documents.forget_signers()


def run_receipt_task(application):
    queued = [r for r in DBTaskResult.objects.all() if r.task_path.endswith("issue_document")
              and r.args_kwargs["args"][2] == "payment_receipt"]
    assert len(queued) == 1
    args = queued[0].args_kwargs["args"]
    assert args[1] == str(application.public_id)
    issue_document.call(*args)
    return args[3]


def test_an_online_payment_issues_a_signed_receipt(owed, taro, tmp_path):
    payment = services.start(owed, taro, return_url=back)
    pay_at_demo(payment)
    payment = services.confirm(payment)
    facts = run_receipt_task(owed)
    assert facts["id"] == str(payment.public_id) and facts["amount_yen"] == 1600 and facts["method"] == "online"
    assert set(facts) == {"id", "amount_yen", "provider", "method", "till_receipt", "paid_at"}  # no personal data
    with tenant(owed.municipality):
        document = Document.objects.get(application=owed, kind="payment_receipt")
        assert AuditEvent.objects.filter(action="documents.issued", object_id=str(document.pk)).exists()
        from madoguchi.documents import services as documents

        signed = documents.read(document)
    path = tmp_path / "receipt.pdf"
    (ARTIFACTS / "payment-receipt.pdf").write_bytes(signed)
    path.write_bytes(signed)
    text = text_of(path).replace(" ", "")
    assert "領収書" in text and "1,600円" in text and f"{owed.receipt_number}-R" in text
    assert "令和" in text and "20" in text and "粗大ごみ" in text and "オンライン決済" in text
    verdict = pades.verify_pdf(signed, [lgpki.DevLGPKI.open(settings.DATA_DIR).root])
    assert verdict.ok, verdict


def test_a_counter_payment_receipt_names_the_method_and_downloads(client, owed, taro, hanako, cashier, muni_a):
    user, device = cashier
    services.record_counter(owed, user, method="cash", till_receipt="R-000777")
    run_receipt_task(owed)
    with tenant(owed.municipality):
        document = Document.objects.get(application=owed, kind="payment_receipt")
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    page = client.get(f"/{code}/applications/{owed.public_id}/").content.decode()
    assert "領収書" in page and f"/{code}/documents/{document.public_id}/" in page
    response = client.get(f"/{code}/documents/{document.public_id}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = b"".join(response.streaming_content)
    assert text.startswith(b"%PDF")
    client.logout()
    signed_in(client, owed.municipality, hanako)  # another resident: the same 404 as nothing
    assert client.get(f"/{code}/documents/{document.public_id}/").status_code == 404
    client.logout()
    sign_in(client, muni_a, user, device)
    assert client.get(f"/{code}/staff/documents/{document.public_id}/").status_code == 200
    with tenant(muni_a):
        assert AuditEvent.objects.filter(action="documents.downloaded", object_id=str(document.pk)).exists()
