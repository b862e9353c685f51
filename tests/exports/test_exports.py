"""Exports: the definition's columns, CSV in UTF-8 with BOM or cp932 (a character cp932
cannot hold fails the export with a report, never replaced), JSON Lines, filters, the
separate My Number export, permissions, expiry, and every step audited. The worker's own
process is exercised in test_worker.py; here the task body runs in the test's process."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.core.files.storage import default_storage
from django.utils import timezone

from madoguchi.applications.models import Application
from madoguchi.applications.services import transition
from madoguchi.applications.statemachine import Role, Status
from madoguchi.audit.models import AuditEvent
from madoguchi.exports import services
from madoguchi.exports.models import Export
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import Procedure
from madoguchi.staff.models import Membership
from tests.conftest import sign_in
from tests.documents.conftest import submit_risai

from .conftest import staff

TAKA = "東京都窓口市髙橋町一丁目1番"  # 髙: in cp932 (an IBM extension), not in JIS X 0208
YOSHI = "東京都窓口市𠮷野町二丁目2番"  # 𠮷 (U+20BB7): in no Shift_JIS at all


def procedure(municipality, slug):
    with tenant(municipality):
        return Procedure.objects.get(slug=slug)


def export_now(municipality, member, slug="risai-shoumei", **options):
    user, membership, _device = member
    with tenant(municipality):
        export = services.request_export(membership, user, procedure(municipality, slug),
                                         kind=options.pop("kind", "ordinary"), fmt=options.pop("fmt", "csv_utf8"),
                                         **options)
        return services.run(export)


def content(export) -> bytes:
    with default_storage.open(export.file) as fh:
        return fh.read()


@pytest.fixture
def three(catalog_a, taro, kiki):
    a = submit_risai(catalog_a, taro, property_address=TAKA)
    b = submit_risai(catalog_a, taro, property_address=YOSHI)
    c = submit_risai(catalog_a, taro)
    with tenant(catalog_a):
        transition(c, Status.RECEIVED, role=Role.REVIEWER, actor=kiki[0])
    return a, b, c


def test_csv_utf8_with_bom_by_the_definition_columns_and_filters(catalog_a, three, kiki):
    a, b, c = three
    export = export_now(catalog_a, kiki)
    assert export.state == "done" and export.done == 3 and export.total == 3
    data = content(export)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["受付番号", "状態", "受付日時", "版", "災害名", "被災日", "被害場所", "種類", "被害", "通数"]
    assert [r[0] for r in rows[1:]] == [a.receipt_number, b.receipt_number, c.receipt_number]
    assert rows[2][6] == YOSHI and rows[1][6] == TAKA  # exactly as received
    assert rows[3][1] == "received"
    assert export.sha256 and export.expires_at > timezone.now()
    received = export_now(catalog_a, kiki, status="received")
    assert [r[0] for r in csv.reader(io.StringIO(content(received).decode("utf-8-sig")))][1:] == [c.receipt_number]
    today = timezone.localdate()
    assert export_now(catalog_a, kiki, date_to=today - dt.timedelta(days=1)).done == 0
    assert export_now(catalog_a, kiki, date_from=today, date_to=today).done == 3
    with tenant(catalog_a):
        actions = list(AuditEvent.objects.filter(object_id=str(export.pk), object_type="exports.export")
                       .order_by("id").values_list("action", flat=True))
    assert actions == ["exports.requested", "exports.started", "exports.finished"]


def test_json_lines(catalog_a, three, kiki):
    export = export_now(catalog_a, kiki, fmt="jsonl")
    lines = content(export).decode("utf-8").splitlines()
    assert len(lines) == 3
    first = json.loads(lines[1])
    assert first["被害場所"] == YOSHI and first["受付番号"] == three[1].receipt_number


def test_cp932_refuses_what_it_cannot_hold_and_round_trips_the_rest(catalog_a, three, kiki):
    a, b, c = three
    failed = export_now(catalog_a, kiki, fmt="csv_cp932")
    assert failed.state == "failed" and not failed.file
    assert failed.problems == [{"receipt": b.receipt_number, "column": "被害場所", "characters": ["U+20BB7"]}]
    assert "1箇所" in failed.error
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="exports.failed", object_id=str(failed.pk),
                                         data__reason="unencodable").exists()
    # Without the application holding 𠮷, the cp932 file round-trips exactly (髙 included).
    with tenant(catalog_a):
        b.status = "withdrawn"
        b.save(update_fields=["status"])
    ok = export_now(catalog_a, kiki, fmt="csv_cp932", status="submitted")
    assert ok.state == "done", ok.problems
    raw = content(ok)
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("cp932"))))
    assert [r[0] for r in rows[1:]] == [a.receipt_number]
    assert rows[1][6] == TAKA
    assert TAKA.encode("cp932") in raw


def test_who_may_export(catalog_a, three, kiki, shimin, muni_a):
    with pytest.raises(Http404):
        export_now(catalog_a, shimin)  # not the owning department: as casework, it does not exist
    viewer = staff(muni_a, "kiki-viewer", Membership.Role.VIEWER, "kikikanri")
    with pytest.raises(PermissionDenied):
        export_now(catalog_a, viewer)
    elsewhere = staff(muni_a, "an-admin", Membership.Role.ADMINISTRATOR, "somu")
    with pytest.raises(Http404):
        export_now(catalog_a, elsewhere)  # an administrator of another department neither
    admin = staff(muni_a, "kiki-admin", Membership.Role.ADMINISTRATOR, "kikikanri")
    assert export_now(catalog_a, admin).state == "done"  # the owning department's administrator
    with pytest.raises(PermissionDenied):
        export_now(catalog_a, admin, kind="mynumber")
    with pytest.raises(services.ExportError):
        export_now(catalog_a, kiki, kind="mynumber")  # 罹災証明 has no My Number task
    for bad in ({"fmt": "xlsx"}, {"kind": "all"}, {"status": "draft"},
                {"date_from": dt.date(2026, 2, 1), "date_to": dt.date(2026, 1, 1)}):
        with pytest.raises(services.ExportError):
            export_now(catalog_a, kiki, **bad)


def test_permission_withdrawn_before_the_worker_runs(catalog_a, three, kiki):
    user, membership, _ = kiki
    with tenant(catalog_a):
        export = services.request_export(membership, user, procedure(catalog_a, "risai-shoumei"), kind="ordinary",
                                         fmt="csv_utf8")
        Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.VIEWER)
        export = services.run(export)
    assert export.state == "failed" and not export.file


def test_expiry_deletes_the_file_audited(catalog_a, three, kiki):
    export = export_now(catalog_a, kiki)
    name = export.file
    assert default_storage.exists(name)
    assert services.expire(catalog_a) == 0  # not yet
    assert services.expire(catalog_a, now=export.expires_at + dt.timedelta(seconds=1)) == 1
    with tenant(catalog_a):
        export.refresh_from_db()
        assert export.state == "expired" and not export.file
        assert AuditEvent.objects.filter(action="exports.expired", object_id=str(export.pk)).exists()
    assert not default_storage.exists(name)



def test_an_export_left_running_by_a_stopped_worker_is_failed_by_the_sweep(catalog_a, three, kiki, settings):
    settings.EXPORT_STALE_MINUTES = 60
    user, membership, _device = kiki
    with tenant(catalog_a):
        stuck = services.request_export(membership, user, procedure(catalog_a, "risai-shoumei"), kind="ordinary",
                                        fmt="csv_utf8")
        started = timezone.now() - dt.timedelta(minutes=61)
        Export.objects.filter(pk=stuck.pk).update(state="running", started_at=started)
        young = services.request_export(membership, user, procedure(catalog_a, "risai-shoumei"), kind="ordinary",
                                        fmt="jsonl")
        Export.objects.filter(pk=young.pk).update(state="running", started_at=timezone.now())
    assert services.abandoned(catalog_a) == 1
    services.expire(catalog_a)  # the sweep runs it too: nothing more to do
    with tenant(catalog_a):
        stuck.refresh_from_db()
        young.refresh_from_db()
        assert (stuck.state, young.state) == ("failed", "running")
        assert "もう一度依頼" in stuck.error
        assert AuditEvent.objects.filter(action="exports.failed", object_id=str(stuck.pk),
                                         data__reason="abandoned").count() == 1


def test_pages_progress_download_and_department_only(client, catalog_a, three, kiki, kiki2, shimin, settings):
    sign_in(client, catalog_a, kiki[0], kiki[2])
    page = client.get("/139998/staff/exports/")
    assert page.status_code == 200 and "risai-shoumei" in page.content.decode()
    bad = client.post("/139998/staff/exports/", {"procedure": "risai-shoumei", "kind": "ordinary", "format": "exe"})
    assert bad.status_code == 400
    bad = client.post("/139998/staff/exports/", {"procedure": "juminhyo-copy", "kind": "ordinary",
                                                 "format": "csv_utf8"})
    assert bad.status_code == 400  # not one of this department's procedures
    response = client.post("/139998/staff/exports/", {"procedure": "risai-shoumei", "kind": "ordinary",
                                                      "format": "csv_utf8", "status": "", "date_from": "",
                                                      "date_to": ""})
    assert response.status_code == 302
    detail_url = response["Location"]
    with tenant(catalog_a):
        export = Export.objects.get()
    detail = client.get(detail_url).content.decode()
    assert f'hx-get="/139998/staff/exports/{export.public_id}/progress/"' in detail
    assert "<script>" not in detail  # CSP: no inline script
    services.run(export)
    fragment = client.get(f"/139998/staff/exports/{export.public_id}/progress/").content.decode()
    assert "hx-get" not in fragment and "/download/" in fragment  # polling stops when done
    download = client.get(f"/139998/staff/exports/{export.public_id}/download/")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert b"".join(download.streaming_content).startswith(b"\xef\xbb\xbf")
    colleague = Client()
    sign_in(colleague, catalog_a, kiki2[0], kiki2[2])  # the same department: may download
    assert colleague.get(f"/139998/staff/exports/{export.public_id}/download/").status_code == 200
    other = Client()
    sign_in(other, catalog_a, shimin[0], shimin[2])  # another department: does not even see it
    assert other.get(f"/139998/staff/exports/{export.public_id}/").status_code == 404
    assert other.get(f"/139998/staff/exports/{export.public_id}/download/").status_code == 404
    assert str(export.public_id) not in other.get("/139998/staff/exports/").content.decode()
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="exports.downloaded", object_id=str(export.pk)).count() == 2
        Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(f"/139998/staff/exports/{export.public_id}/download/").status_code == 404  # expired
    settings.EXPORT_REQUEST_RATE = 4  # three requests above count too
    form = {"procedure": "risai-shoumei", "kind": "ordinary", "format": "jsonl"}
    assert client.post("/139998/staff/exports/", form).status_code == 302
    assert client.post("/139998/staff/exports/", form).status_code == 429


@pytest.mark.parametrize("form", [
    {"procedure": "risai-shoumei", "kind": "ordinary", "format": "csv_utf8", "date_from": "2026-13-45"},
    {"procedure": "risai-shoumei", "kind": "ordinary", "format": "csv_utf8", "date_from": "x" * 10000},
    {"procedure": "no-such-procedure", "kind": "ordinary", "format": "csv_utf8"},
    {"procedure": "risai-shoumei", "kind": "ordinary", "format": "csv_utf8", "status": "draft"},
    {"procedure": "risai-shoumei", "kind": "ordinary\x00", "format": "csv_utf8"},
    {"procedure": "risai-shoumei", "kind": "ordinary", "format": "csv_utf8", "date_from": "2026-02-01",
     "date_to": "2026-01-01"},
    {},
])
def test_malformed_requests_are_400_and_create_nothing(client, catalog_a, kiki, form):
    sign_in(client, catalog_a, kiki[0], kiki[2])
    response = client.post("/139998/staff/exports/", form)
    assert response.status_code == 400
    with tenant(catalog_a):
        assert not Export.objects.exists()
    for url in ("/139998/staff/exports/00000000-0000-0000-0000-000000000000/",
                "/139998/staff/exports/00000000-0000-0000-0000-000000000000/download/",
                "/139998/staff/exports/not-a-uuid/"):
        assert client.get(url).status_code == 404
    assert client.post("/139998/staff/exports/00000000-0000-0000-0000-000000000000/").status_code == 405


def test_an_export_belongs_to_the_department_that_owns_the_procedure(client, catalog_a, muni_a):
    """Issue 13, finding 2: a 子育て支援課 procedure's export is 子育て支援課's. 市民課 (its
    administrator or reviewer) cannot request one — refused as casework refuses the
    applications (they do not exist for them) — nor list, open or download one."""
    from madoguchi.staff.models import Department

    kosodate = staff(muni_a, "kosodate-rev", Membership.Role.REVIEWER, "kosodate", "子育て支援課")
    shimin_admin = staff(muni_a, "shimin-admin", Membership.Role.ADMINISTRATOR, "shimin", "市民課")
    shimin_rev = staff(muni_a, "shimin-rev", Membership.Role.REVIEWER, "shimin")
    for member in (shimin_admin, shimin_rev):
        with pytest.raises(Http404):
            export_now(catalog_a, member, slug="jidou-teate")
    export = export_now(catalog_a, kosodate, slug="jidou-teate")
    with tenant(catalog_a):
        assert export.department.code == "kosodate"
        # An export filed under 市民課 by the old rule (the requester's department) is not 市民課's.
        misfiled = Export.objects.create(
            requested_by=shimin_admin[0], department=Department.objects.get(code="shimin"),
            procedure=procedure(catalog_a, "jidou-teate"), kind="ordinary", format="csv_utf8")
        misfiled.state = "queued"
        misfiled.save()
    services.run(misfiled)  # the worker refuses it: not the owning department
    with tenant(catalog_a):
        misfiled.refresh_from_db()
        assert misfiled.state == "failed" and not misfiled.file

    for member in (shimin_admin, shimin_rev):
        other = Client()
        assert sign_in(other, catalog_a, member[0], member[2]).status_code == 302
        listing = other.get("/139998/staff/exports/").content.decode()
        assert str(export.public_id) not in listing and str(misfiled.public_id) not in listing
        assert 'value="jidou-teate"' not in listing  # not offered
        for suffix in ("", "progress/", "download/"):
            assert other.get(f"/139998/staff/exports/{export.public_id}/{suffix}").status_code == 404
            assert other.get(f"/139998/staff/exports/{misfiled.public_id}/{suffix}").status_code == 404
        # Named anyway: the same answer as a procedure that does not exist, and nothing created.
        form = {"procedure": "jidou-teate", "kind": "ordinary", "format": "csv_utf8"}
        unknown = {**form, "procedure": "no-such-procedure"}
        refused, missing = other.post("/139998/staff/exports/", form), other.post("/139998/staff/exports/", unknown)
        assert refused.status_code == missing.status_code == 400
        with tenant(catalog_a):
            assert Export.objects.count() == 2

    own = Client()
    assert sign_in(own, catalog_a, kosodate[0], kosodate[2]).status_code == 302
    assert own.get(f"/139998/staff/exports/{export.public_id}/download/").status_code == 200
    assert str(export.public_id) in own.get("/139998/staff/exports/").content.decode()


def test_the_export_holds_only_the_owning_departments_applications(catalog_a, three, kiki):
    """What casework shows the department: an application stored while the procedure belonged
    to another department stays that department's, and is not in this one's export."""
    a, b, c = three
    with tenant(catalog_a):
        Application.objects.filter(pk=b.pk).update(department_code="shimin")
    export = export_now(catalog_a, kiki)
    rows = list(csv.reader(io.StringIO(content(export).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [a.receipt_number, c.receipt_number]


@pytest.mark.parametrize("state,polls", [("queued", True), ("running", True), ("done", False),
                                         ("failed", False), ("expired", False)])
def test_the_progress_fragment_polls_only_while_queued_or_running(client, catalog_a, kiki, state, polls):
    user, membership, device = kiki
    with tenant(catalog_a):
        export = services.request_export(membership, user, procedure(catalog_a, "risai-shoumei"), kind="ordinary",
                                         fmt="csv_utf8")
        Export.objects.filter(pk=export.pk).update(state=state, error="止まりました")
    sign_in(client, catalog_a, user, device)
    for url in (f"/139998/staff/exports/{export.public_id}/progress/", f"/139998/staff/exports/{export.public_id}/"):
        page = client.get(url).content.decode()
        assert f'data-state="{state}"' in page
        assert ("hx-trigger" in page) is polls and ("hx-get" in page) is polls


def test_a_running_export_whose_heartbeat_stopped_is_failed(catalog_a, three, kiki, settings):
    """Issue 13, finding 8: the sweep goes by the heartbeat, not by how long the export ran."""
    settings.EXPORT_STALE_SECONDS = 30
    user, membership, _device = kiki
    now = timezone.now()

    def running(heartbeat, started):
        with tenant(catalog_a):
            export = services.request_export(membership, user, procedure(catalog_a, "risai-shoumei"),
                                             kind="ordinary", fmt="csv_utf8")
            Export.objects.filter(pk=export.pk).update(state="running", started_at=started, heartbeat_at=heartbeat)
        return export

    dead = running(now - dt.timedelta(seconds=31), now - dt.timedelta(seconds=40))
    alive_long = running(now - dt.timedelta(seconds=2), now - dt.timedelta(hours=2))  # long but beating
    assert services.sweep()["139998"] == 1
    with tenant(catalog_a):
        dead.refresh_from_db()
        alive_long.refresh_from_db()
        assert (dead.state, alive_long.state) == ("failed", "running")
        assert AuditEvent.objects.filter(action="exports.failed", object_id=str(dead.pk),
                                         data__reason="abandoned").count() == 1
    # A failed export is never failed again, nor finished by a worker that comes back.
    assert services.abandoned(catalog_a, now=now + dt.timedelta(minutes=5)) == 1  # only alive_long now
    with tenant(catalog_a):
        assert AuditEvent.objects.filter(action="exports.failed", object_id=str(dead.pk)).count() == 1
    assert services.run(dead).state == "failed"


def test_the_stale_bound_is_a_setting_within_a_minute(tmp_path):
    import os
    import subprocess
    import sys

    def settings_with(**env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_EXPORT")}
        return subprocess.run([sys.executable, "-c", "from django.conf import settings; "
                               "print(settings.EXPORT_STALE_SECONDS)"],
                              env={**base, "DJANGO_SETTINGS_MODULE": "madoguchi.settings", **env},
                              capture_output=True, text=True, timeout=60)

    assert settings_with().stdout.strip() == "45"
    assert settings_with(MADOGUCHI_EXPORT_STALE_SECONDS="20").stdout.strip() == "20"
    for env in ({"MADOGUCHI_EXPORT_STALE_SECONDS": "600"}, {"MADOGUCHI_EXPORT_STALE_SECONDS": "5"},
                {"MADOGUCHI_EXPORT_STALE_MINUTES": "60"}):
        result = settings_with(**env)
        assert result.returncode != 0 and "MADOGUCHI_EXPORT_STALE_SECONDS" in result.stderr
