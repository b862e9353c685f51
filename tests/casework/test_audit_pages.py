"""Audit views: an application's trail (anyone who may open it), a staff member's trail and
the chain verification (administrators only, the same code as `madoguchi audit verify`)."""

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant

from .helpers import bulk_rows


@pytest.fixture
def worked(catalog_a, taro, staff):
    [application] = bulk_rows(catalog_a, "tenshutsu", taro, 1)
    reviewer = staff("reviewer")
    base = f"/139998/staff/applications/{application.public_id}/"
    reviewer.client.post(base + "assign/", {"assignee": "me"})
    reviewer.client.post(base + "comments/", {"body": "確認中"})
    reviewer.client.post(base + "transition/", {"target": "received"})
    return application


def test_the_application_trail_filters_by_action(worked, staff):
    base = f"/139998/staff/applications/{worked.public_id}/audit/"
    response = staff("viewer").client.get(base)
    assert response.status_code == 200
    actions = [e.action for e in response.context["events"]]
    assert set(actions) == {"casework.assigned", "casework.commented", "applications.received"}
    only = staff("viewer").client.get(base, {"action": "casework.commented"}).context["events"]
    assert [e.action for e in only] == ["casework.commented"]
    assert staff("kosodate").client.get(base).status_code == 404


def test_a_staff_members_trail_for_administrators(worked, staff):
    reviewer = staff("reviewer")
    url = f"/139998/staff/audit/staff/{reviewer.user.pk}/"
    response = staff("admin").client.get(url)
    assert response.status_code == 200
    assert {"casework.assigned", "applications.received"} <= {e.action for e in response.context["events"]}
    filtered = staff("admin").client.get(url, {"action": "applications.received"}).context["events"]
    assert [e.action for e in filtered] == ["applications.received"]
    assert staff("admin").client.get(url, {"date_from": "not-a-date"}).status_code == 400
    assert staff("admin").client.get("/139998/staff/audit/staff/999999/").status_code == 404
    for who in ("reviewer", "viewer"):
        assert staff(who).client.get(url).status_code == 403
        assert staff(who).client.get("/139998/staff/audit/").status_code == 403


def test_verify_runs_the_command_code_and_is_audited(worked, staff, catalog_a):
    admin = staff("admin").client
    assert "検査する" in admin.get("/139998/staff/audit/verify/").content.decode()
    response = admin.post("/139998/staff/audit/verify/")
    report = response.context["report"]
    assert response.status_code == 200 and report.ok and report.events > 3
    assert "OK 139998: " in response.content.decode()
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="audit.verified_from_back_office").count() == 1
    assert staff("reviewer").client.post("/139998/staff/audit/verify/").status_code == 403


def test_a_broken_chain_is_named(worked, staff, catalog_a, settings):
    """A truncated chain (its head records more events than there are) is named, as the
    command names it."""
    from django.db import connection

    with tenant(catalog_a):
        last = AuditEvent.objects.order_by("-seq").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET last_seq = last_seq + 1 WHERE chain = %s",
                       [str(catalog_a.pk)])
    report = staff("admin").client.post("/139998/staff/audit/verify/").context["report"]
    assert not report.ok and report.broken_at == last.seq + 1


def test_the_page_checks_the_chain_against_its_checkpoint(worked, staff, catalog_a, settings, tmp_path):
    """The page runs the command's checkpoint check too: a tail cut with the head rewound (the
    insider of issue 13) is named with the checkpoint that proves it."""
    from django.core.management import call_command
    from django.db import connection

    from tests.audit.test_chain import _tamper

    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    admin = staff("admin").client
    page = admin.post("/139998/staff/audit/verify/").content.decode()
    assert "データベースの外に記録したチェックポイントはまだありません" in page
    call_command("audit_checkpoint")
    with tenant(catalog_a):
        checkpointed = AuditEvent.objects.order_by("-seq").first().seq
    response = admin.post("/139998/staff/audit/verify/")
    assert response.context["report"].ok and response.context["report"].checkpoint.seq == checkpointed
    assert f"データベースの外に記録したチェックポイント（#{checkpointed}、" in response.content.decode()

    keep = checkpointed - 2
    _tamper("DELETE FROM audit_auditevent WHERE municipality_id = %s AND seq > %s", [catalog_a.pk, keep])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET last_seq = %s, last_hash = (SELECT hash FROM audit_auditevent"
                       " WHERE municipality_id = %s AND seq = %s) WHERE chain = %s",
                       [keep, catalog_a.pk, keep, str(catalog_a.pk)])
    response = admin.post("/139998/staff/audit/verify/")
    report = response.context["report"]
    assert not report.ok and report.broken_at == keep + 1
    page = response.content.decode()
    assert f"BROKEN 139998: 最初に壊れている記録: #{keep + 1}" in page
    assert f"events {keep + 1}-{checkpointed} missing: checkpoint checkpoints-" in page
    assert "と一致しました" not in page
