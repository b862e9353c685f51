"""Individual numbers only in the separate My Number export: a reviewer of the owning
department, every number opened through reveal() (an audit event each, never the number in
the audit data), and never in an ordinary export."""

import csv
import hashlib
import io
import json

import pytest
from django.core.exceptions import PermissionDenied

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
    with pytest.raises(PermissionDenied):
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
