"""Individual numbers only in the separate My Number export: a reviewer of the owning
department, every number opened through reveal() (an audit event each, never the number in
the audit data), and never in an ordinary export."""

import csv
import hashlib
import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from madoguchi.audit.models import AuditEvent
from madoguchi.exports import services
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.models import Membership
from tests.applications.test_mynumber import APPLICANT_NUMBER, CHILD_NUMBER, submitted  # noqa: F401  (fixture)

from .conftest import staff
from .test_exports import content, export_now


@pytest.fixture
def kosodate(muni_a):
    return staff(muni_a, "kosodate-rev", Membership.Role.REVIEWER, "kosodate", "子育て支援課")


def test_ordinary_export_never_holds_a_number(catalog_a, submitted, kosodate):
    export = export_now(catalog_a, kosodate, slug="jidou-teate")
    data = content(export).decode("utf-8-sig")
    assert export.state == "done" and export.done == 1
    assert APPLICANT_NUMBER not in data and CHILD_NUMBER not in data
    assert submitted.receipt_number in data


def test_mynumber_export_for_the_owning_departments_reviewer_audited(catalog_a, submitted, kosodate, muni_a):
    export = export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber", fmt="csv_cp932")
    assert export.state == "done" and export.total == 2
    # On disk the file is sealed: no number, in any form, and nothing readable as CSV.
    stored = content(export)
    assert stored.startswith(services.SEALED_MAGIC) and export.file.endswith(".sealed")
    for number in (APPLICANT_NUMBER, CHILD_NUMBER):
        assert number.encode() not in stored and number.encode("cp932") not in stored
    with tenant(catalog_a):
        opened = services.open_file(export)
    assert hashlib.sha256(opened).hexdigest() == export.sha256 and len(opened) == export.size
    rows = list(csv.reader(io.StringIO(opened.decode("cp932"))))
    assert rows[0] == ["受付番号", "項目", "個人番号"]
    assert sorted(r[2] for r in rows[1:]) == sorted([APPLICANT_NUMBER, CHILD_NUMBER])
    assert {r[0] for r in rows[1:]} == {submitted.receipt_number}
    with tenant(catalog_a):
        reveals = AuditEvent.objects.filter(action="applications.mynumber_revealed")
        assert reveals.count() == 2
        dumped = json.dumps(list(AuditEvent.objects.values("data")), ensure_ascii=False)
        assert APPLICANT_NUMBER not in dumped and CHILD_NUMBER not in dumped
        assert AuditEvent.objects.filter(action="exports.requested", data__kind="mynumber").exists()
    admin = staff(muni_a, "kosodate-admin", Membership.Role.ADMINISTRATOR, "kosodate")
    with pytest.raises(PermissionDenied):
        export_now(catalog_a, admin, slug="jidou-teate", kind="mynumber")
    other = staff(muni_a, "kiki-rev", Membership.Role.REVIEWER, "kikikanri")
    with pytest.raises(Http404):
        export_now(catalog_a, other, slug="jidou-teate", kind="mynumber")
    with pytest.raises(services.ExportError):
        export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber", fmt="pdf")


def test_a_sealed_export_bound_to_its_export(catalog_a, submitted, kosodate):
    """The sealed bytes open only as the export they were made for (the associated data)."""
    from cryptography.exceptions import InvalidTag

    first = export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber")
    second = export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber")
    second.file = first.file  # a file swapped under another export's row
    with tenant(catalog_a), pytest.raises(InvalidTag):
        services.open_file(second)


def test_the_download_opens_the_sealed_file_for_its_reviewer_only(client, catalog_a, submitted, kosodate, muni_a):
    from tests.conftest import sign_in

    export = export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber", fmt="csv_utf8")
    url = f"/{catalog_a.code}/staff/exports/{export.public_id}/download/"
    sign_in(client, catalog_a, kosodate[0], kosodate[2])
    response = client.get(url)
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and hashlib.sha256(body).hexdigest() == export.sha256
    assert APPLICANT_NUMBER in body.decode("utf-8-sig")
    client.logout()
    other = staff(muni_a, "shimin-rev", Membership.Role.REVIEWER, "shimin")
    sign_in(client, catalog_a, other[0], other[2])
    assert client.get(url).status_code == 404  # another department does not see it at all


def test_a_mynumber_export_downloads_only_for_reviewers_of_the_department_each_audited(
        catalog_a, submitted, kosodate, muni_a):
    """Issue 13, finding 1: downloading a My Number export needs the right to request it (and
    to reveal): a reviewer of the owning department, checked at each download. Each download
    is one audit event naming the export and how many numbers, never a number."""
    from django.test import Client

    from tests.conftest import sign_in

    export = export_now(catalog_a, kosodate, slug="jidou-teate", kind="mynumber", fmt="csv_utf8")
    url = f"/{catalog_a.code}/staff/exports/{export.public_id}/download/"
    detail = f"/{catalog_a.code}/staff/exports/{export.public_id}/"

    def client_of(member):
        client = Client()
        assert sign_in(client, catalog_a, member[0], member[2]).status_code == 302
        return client

    admin = client_of(staff(muni_a, "kosodate-admin", Membership.Role.ADMINISTRATOR, "kosodate"))
    assert admin.get(url).status_code == 403  # the department's administrator may not reveal
    page = admin.get(detail)
    assert page.status_code == 200 and "/download/" not in page.content.decode()  # no link either
    viewer = client_of(staff(muni_a, "kosodate-viewer", Membership.Role.VIEWER, "kosodate"))
    assert viewer.get(url).status_code == 403
    other = client_of(staff(muni_a, "shimin-rev", Membership.Role.REVIEWER, "shimin"))
    assert other.get(url).status_code == 404
    with tenant(catalog_a):
        assert not AuditEvent.objects.filter(action__in=["exports.downloaded", "exports.mynumber_downloaded"]).exists()
        reveals_before = AuditEvent.objects.filter(action="applications.mynumber_revealed").count()

    reviewer = client_of(kosodate)
    for _ in range(2):
        response = reviewer.get(url)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"]
        assert APPLICANT_NUMBER in b"".join(response.streaming_content).decode("utf-8-sig")
    second = staff(muni_a, "kosodate-rev-2", Membership.Role.REVIEWER, "kosodate")
    assert client_of(second).get(url).status_code == 200  # the same right: a reviewer of the department
    with tenant(catalog_a):
        events = list(AuditEvent.objects.filter(action="exports.mynumber_downloaded").order_by("id"))
        assert len(events) == 3 and not AuditEvent.objects.filter(action="exports.downloaded").exists()
        assert [e.data["numbers"] for e in events] == [2, 2, 2]
        assert {e.data["export"] for e in events} == {str(export.public_id)}
        assert {e.object_id for e in events} == {str(export.pk)}
        assert [e.actor_id for e in events] == [str(kosodate[0].pk)] * 2 + [str(second[0].pk)]
        dumped = json.dumps([e.data for e in events], ensure_ascii=False)
        assert APPLICANT_NUMBER not in dumped and CHILD_NUMBER not in dumped
        assert AuditEvent.objects.filter(action="applications.mynumber_revealed").count() == reveals_before

    # The right is checked again at the download: a reviewer who became an administrator loses it.
    with tenant(catalog_a):
        Membership.objects.filter(pk=kosodate[1].pk).update(role=Membership.Role.ADMINISTRATOR)
    assert reviewer.get(url).status_code == 403
