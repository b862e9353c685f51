"""The cost of one signed submission over the API, pinned: the SQL queries of the whole
request (authentication, rate-limit counters, the ceremony's CMS taken, the checks, the
transaction with the two transitions, the answer). The bound is what the code reaches
today (docs/applications.md, "Benchmark"): a change that adds queries to the hottest
write path fails here and has to say why by raising it."""

import hashlib
import json
import os

from django.db import connection
from django.test.utils import CaptureQueriesContext

from madoguchi.applications import services
from madoguchi.applications.models import Application, ApplicationEvent, Attachment, IndividualNumber, Notice
from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import verify_chain
from madoguchi.municipalities.tenancy import tenant

from .conftest import version_of
from .helpers import JUMINHYO, PDF, key, sign
from .test_api import card_signs, resident, unb64
from .test_mynumber import APPLICANT_NUMBER, CHILD_NUMBER, jidou

# The whole POST …/drafts/{id}/submit of 住民票の写し (signed, with a fee: two transitions).
# 28 since issue 14: the CMS is verified once, by its ceremony (submit() reads the stored
# result instead of verifying again), while issue 13 added one look-up of the signer's
# certificate in the list of refused two-card mixtures before its Person is trusted.
# 30 since issue 24: the ceremony is consumed inside the submission's transaction (a server
# killed between the two left a consumed ceremony and a draft, found by tests/topology), so
# the two inner transactions became savepoints: one SAVEPOINT/RELEASE pair more.
SUBMIT_QUERY_BUDGET = 30


def signed_draft(api, code, card) -> tuple[dict, dict]:
    draft = api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": JUMINHYO}).json()
    prepared = api("POST", f"/drafts/{draft['id']}/prepare").json()
    opened = api("POST", f"/drafts/{draft['id']}/sign").json()
    done = card_signs(code, opened, card, unb64(prepared["document"]))
    assert done.status_code == 200, done.content
    return draft, {"ceremony_id": opened["id"], "poll_token": opened["poll_token"]}


def test_one_signed_submission_stays_within_its_query_budget(catalog_a, taro, pki, no_random_purges):
    code = catalog_a.code
    api = resident(code, catalog_a, taro)
    # A first submission warms per-process caches (validator, compiled schemas) and the
    # first-of-the-year rows (the 受付番号 counter, the chain head) as a running server has them.
    draft, body = signed_draft(api, code, pki.taro)
    assert api("POST", f"/drafts/{draft['id']}/submit", body, headers={"Idempotency-Key": key()}).status_code == 201
    draft, body = signed_draft(api, code, pki.taro)
    with CaptureQueriesContext(connection) as queries:
        submitted = api("POST", f"/drafts/{draft['id']}/submit", body, headers={"Idempotency-Key": key()})
    assert submitted.status_code == 201, submitted.content
    if os.environ.get("MADOGUCHI_SHOW_QUERIES"):
        for i, q in enumerate(queries.captured_queries):
            print(i, q["sql"][:300])
    assert len(queries) <= SUBMIT_QUERY_BUDGET, f"{len(queries)} queries"
    # Nothing was left out to get there: both transitions have their history row, notice and
    # audit event, and the chain still verifies.
    application = submitted.json()
    assert application["status"] == "payment_required"
    with tenant(catalog_a):
        row = Application.objects.get(public_id=application["id"])
        assert list(ApplicationEvent.objects.filter(application=row).order_by("id")
                    .values_list("from_status", "to_status")) == [("draft", "submitted"),
                                                                  ("submitted", "payment_required")]
        assert sorted(Notice.objects.filter(application=row).values_list("kind", flat=True)) == [
            "payment_required", "submitted"]
        assert sorted(AuditEvent.objects.filter(object_id=str(row.pk), object_type="applications.application")
                      .values_list("action", flat=True)) == ["applications.payment_required",
                                                             "applications.submitted"]
    assert verify_chain(catalog_a).ok


def test_a_drafts_sealed_numbers_and_files_become_the_applications(catalog_a, taro, pki, reviewer_kosodate):
    """The draft path keeps the draft's sealed individual numbers and attachments rather than
    writing them again: they are the application's, and open where they are."""
    version = version_of(catalog_a, "jidou-teate")
    draft = services.save_draft(version, taro, jidou(), [services.Upload("保険証.pdf", PDF)])
    signed = sign(pki.taro, version, taro, None, document=services.signed_document(draft))
    application, created = services.submit_draft(draft, taro, signed=signed, idempotency_key=key())
    assert created and application.pk == draft.pk and application.status == "submitted"
    assert application.receipt_number
    with tenant(catalog_a):
        assert IndividualNumber.objects.filter(application=application).count() == 2
        [attachment] = Attachment.objects.filter(application=application)
    assert attachment.sanitisation == "pending" and attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert services.reveal(application, "/applicant_mynumber", reviewer_kosodate) == APPLICANT_NUMBER
    assert services.reveal(application, "/children/0/mynumber", reviewer_kosodate) == CHILD_NUMBER
    assert json.loads(services.signed_document(application))["data"]["applicant_mynumber"] == APPLICANT_NUMBER
    # Submitting again is the same application, unchanged.
    again, created = services.submit_draft(application, taro, signed=signed, idempotency_key=key())
    assert not created and again.receipt_number == application.receipt_number
