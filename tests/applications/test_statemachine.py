"""The one state machine: the table in the code equals the table in the docs; transitions
write history, audit events and notices; roles are enforced."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied

from madoguchi.applications import services, statemachine
from madoguchi.applications.models import Notice
from madoguchi.applications.services import ApplicationError, resubmit, submit, transition
from madoguchi.applications.statemachine import TRANSITIONS, Status, TransitionRefused, allowed_targets
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant

from .conftest import version_of
from .helpers import JUMINHYO, RISAI, PNG, key, sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "applications.md"


def test_the_docs_table_is_the_code_table():
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- transitions")[1].split("<!-- /transitions -->")[0]
    rows = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in Status.values:
            rows.add((cells[0], cells[1], frozenset(re.split(r",\s*", cells[2])), cells[3] == "yes"))
    code = {(t.source.value, t.target.value, frozenset(r.value for r in t.roles), t.signs_again) for t in TRANSITIONS}
    assert rows == code


def test_every_status_is_reachable_and_final_ones_lead_nowhere():
    reached = {Status.DRAFT} | {t.target for t in TRANSITIONS}
    assert reached == set(Status)
    for status in statemachine.FINAL:
        assert not [t for t in TRANSITIONS if t.source == status]
    assert allowed_targets("received", "resident") == []
    assert set(allowed_targets("received", "reviewer")) == {"returned", "approved", "rejected"}
    with pytest.raises(TransitionRefused):
        statemachine.check("completed", "received", "reviewer")
    with pytest.raises(TransitionRefused):
        statemachine.check("received", "approved", "resident")


def test_review_return_resubmit_signed_again_approve_complete(catalog_a, pki, taro, reviewer_shimin):
    version = version_of(catalog_a, "juminhyo-copy")
    data = {**JUMINHYO, "copies": 1}
    application, _ = submit(version, taro, data, idempotency_key=key(), signed=sign(pki.taro, version, taro, data))
    assert application.status == "payment_required"
    services.payment_received(application)  # what the payments app does
    with pytest.raises(TransitionRefused):  # no longer withdrawable by the resident
        services.withdraw(application, taro)
    transition(application, "returned", role="reviewer", actor=reviewer_shimin, comment="送付先を確認してください")
    corrected = {**data, "delivery": "other", "mailing_postal_code": "100-0001", "mailing_address": "東京都千代田区1番"}
    with pytest.raises(ApplicationError) as exc:  # a signed procedure is signed again
        resubmit(application, taro, corrected)
    assert exc.value.code == "signature_required"
    old_signature = None
    with tenant(catalog_a):
        application.refresh_from_db()
        old_signature = bytes(application.signature)
    resubmit(application, taro, corrected, signed=sign(pki.taro, version, taro, corrected))
    with tenant(catalog_a):
        application.refresh_from_db()
        assert application.status == "resubmitted" and bytes(application.signature) != old_signature
        assert application.data["delivery"] == "other"
    transition(application, "received", role="reviewer", actor=reviewer_shimin)
    transition(application, "approved", role="reviewer", actor=reviewer_shimin)
    transition(application, "completed", role="system")
    with tenant(catalog_a):
        history = list(application.events.order_by("id").values_list("to_status", flat=True))
        assert history == ["submitted", "payment_required", "received", "returned", "resubmitted",
                           "received", "approved", "completed"]
        assert application.events.get(to_status="returned").comment == "送付先を確認してください"
        assert Notice.objects.filter(application=application).count() == len(history)
        audited = AuditEvent.objects.filter(object_type="applications.application", object_id=str(application.pk))
        assert audited.count() == len(history)
        assert audited.get(action="applications.approved").actor_id == str(reviewer_shimin.pk)


def test_roles_are_enforced(catalog_a, taro, hanako, reviewer_kosodate, admin_a):
    application, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                            uploads=[services.Upload("p.png", PNG)])
    with pytest.raises(PermissionDenied):  # a reviewer of another department
        transition(application, "received", role="reviewer", actor=reviewer_kosodate)
    with pytest.raises(PermissionDenied):  # an administrator is not a reviewer
        transition(application, "received", role="reviewer", actor=admin_a[0])
    with pytest.raises(TransitionRefused):  # another resident
        services.withdraw(application, hanako)
    with pytest.raises(TransitionRefused):  # resubmission goes through resubmit()
        transition(application, "resubmitted", role="resident", actor=taro)
    with pytest.raises(TransitionRefused):
        transition(application, "approved", role="system")
    services.withdraw(application, taro)
    with tenant(catalog_a):
        application.refresh_from_db()
        assert application.status == "withdrawn"
        assert application.events.last().role == "resident"
