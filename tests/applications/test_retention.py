"""Retention: closed applications go when their class has run out (counted from the April
after the fiscal year of closing), abandoned drafts after N days; all that belongs to them
goes too, with one audit event each; nothing else is touched."""

import datetime as dt
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi import cli
from madoguchi.applications import retention, services
from madoguchi.applications.models import Application, ApplicationEvent, Attachment, IndividualNumber, Notice
from madoguchi.applications.services import Upload, submit
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant

from .conftest import version_of
from .helpers import PNG, RISAI, key
from .test_mynumber import jidou

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize("day, year", [(dt.date(2026, 3, 31), 2025), (dt.date(2026, 4, 1), 2026),
                                       (dt.date(2027, 1, 1), 2026)])
def test_fiscal_year(day, year):
    assert retention.fiscal_year(day) == year


def test_the_period_starts_the_april_after_the_fiscal_year_of_closing():
    closed = dt.datetime(2026, 11, 26, 10, 0, tzinfo=JST)
    assert retention.purge_date(closed, 3) == dt.date(2030, 4, 1)
    # closed on 31 March belongs to the fiscal year before: one year earlier
    assert retention.purge_date(dt.datetime(2027, 3, 31, 23, 0, tzinfo=JST), 3) == dt.date(2030, 4, 1)
    assert retention.purge_date(dt.datetime(2027, 4, 1, 0, 0, tzinfo=JST), 3) == dt.date(2031, 4, 1)
    assert retention.closed_before(3, dt.date(2030, 3, 31)) == dt.datetime(2026, 4, 1, tzinfo=JST)
    assert retention.closed_before(3, dt.date(2030, 4, 1)) == dt.datetime(2027, 4, 1, tzinfo=JST)


@pytest.mark.parametrize("value, years", [("1y", 1), ("10y", 10), ("30y", 30), ("permanent", None),
                                          ("", None), ("3 years", None), ("-1y", None)])
def test_retention_classes(value, years):
    assert retention.retention_years({"retention": value}) == years


def withdrawn_risai(municipality, person, closed_at):
    application, _ = submit(version_of(municipality, "risai-shoumei"), person, RISAI, idempotency_key=key(),
                            uploads=[Upload("photo.png", PNG)])
    services.withdraw(application, person)
    with tenant(municipality):
        ApplicationEvent.objects.filter(application=application, to_status="withdrawn").update(at=closed_at)
        return Application.objects.get(pk=application.pk)


def files_of(municipality, application):
    with tenant(municipality):
        return [a.file.path for a in Attachment.objects.filter(application=application)]


def test_a_closed_application_is_deleted_whole_when_its_class_runs_out(catalog_a, taro,
                                                                     django_capture_on_commit_callbacks):
    # risai-shoumei keeps 10 years: closed in fiscal year 2015 → deletable from 2026-04-01.
    old = withdrawn_risai(catalog_a, taro, dt.datetime(2016, 3, 31, 12, 0, tzinfo=JST))
    young = withdrawn_risai(catalog_a, taro, dt.datetime(2016, 4, 1, 12, 0, tzinfo=JST))
    open_one, _ = submit(version_of(catalog_a, "risai-shoumei"), taro, RISAI, idempotency_key=key(),
                         uploads=[Upload("photo.png", PNG)])
    old_files, young_files = files_of(catalog_a, old), files_of(catalog_a, young)
    assert old_files and all(os.path.exists(f) for f in old_files)

    with django_capture_on_commit_callbacks(execute=True):  # files go only once the rows are committed gone
        report = retention.purge(catalog_a, today=dt.date(2026, 4, 1))

    assert report.deleted == [(old.receipt_number, "retention")] and report.kept == []
    with tenant(catalog_a):
        assert not Application.objects.filter(pk=old.pk).exists()
        assert not ApplicationEvent.objects.filter(application_id=old.pk).exists()
        assert not Notice.objects.filter(application_id=old.pk).exists()
        assert not Attachment.objects.filter(application_id=old.pk).exists()
        assert set(Application.objects.values_list("pk", flat=True)) == {young.pk, open_one.pk}
        event = AuditEvent.objects.get(action="applications.purged")
        assert event.object_id == str(old.pk) and event.actor_id == "retention"
        assert event.data == {"receipt": old.receipt_number, "procedure": "risai-shoumei", "version": 1,
                              "status": "withdrawn", "reason": "retention", "retention": "10y"}
    assert not any(os.path.exists(f) for f in old_files)
    assert all(os.path.exists(f) for f in young_files)
    # The day before, nothing had run out; a second run finds nothing more.
    assert retention.purge(catalog_a, today=dt.date(2026, 3, 31)).deleted == []
    assert retention.purge(catalog_a, today=dt.date(2026, 4, 1)).deleted == []


def test_a_dry_run_lists_and_deletes_nothing(catalog_a, taro):
    old = withdrawn_risai(catalog_a, taro, dt.datetime(2010, 6, 1, tzinfo=JST))
    report = retention.purge(catalog_a, today=dt.date(2026, 4, 1), dry_run=True)
    assert report.deleted == [(old.receipt_number, "retention")]
    with tenant(catalog_a):
        assert Application.objects.filter(pk=old.pk).exists()
        assert not AuditEvent.objects.filter(action="applications.purged").exists()


def test_abandoned_drafts_go_with_their_sealed_numbers(catalog_a, taro, settings):
    settings.APPLICATION_DRAFT_RETENTION_DAYS = 30
    version = version_of(catalog_a, "jidou-teate")
    stale = services.save_draft(version, taro, jidou())
    fresh = services.save_draft(version_of(catalog_a, "risai-shoumei"), taro, RISAI, [Upload("photo.png", PNG)])
    now = dt.datetime.now(dt.timezone.utc)
    with tenant(catalog_a):
        assert IndividualNumber.objects.filter(application=stale).count() == 2
        Application.objects.filter(pk=stale.pk).update(updated_at=now - dt.timedelta(days=31))
        Application.objects.filter(pk=fresh.pk).update(updated_at=now - dt.timedelta(days=29))

    report = retention.purge(catalog_a, now=now)

    assert [reason for _, reason in report.deleted] == ["draft_expired"]
    with tenant(catalog_a):
        assert list(Application.objects.values_list("pk", flat=True)) == [fresh.pk]
        assert not IndividualNumber.objects.exists()
        assert AuditEvent.objects.get(action="applications.purged").data["reason"] == "draft_expired"


def test_another_municipality_is_untouched(catalog_a, muni_b, taro):
    from madoguchi.procedures.services import install_catalog

    install_catalog(muni_b)
    old = withdrawn_risai(catalog_a, taro, dt.datetime(2010, 6, 1, tzinfo=JST))
    assert retention.purge(muni_b, today=dt.date(2026, 4, 1)).deleted == []
    with tenant(catalog_a):
        assert Application.objects.filter(pk=old.pk).exists()


def test_the_command_reports_and_refuses_bad_arguments(catalog_a, taro, capsys):
    old = withdrawn_risai(catalog_a, taro, dt.datetime(2010, 6, 1, tzinfo=JST))
    call_command("retention_purge", "--municipality", catalog_a.code, "--as-of", "2026-04-01", "--dry-run")
    out = capsys.readouterr().out
    assert f"{catalog_a.code}: would delete 1 past retention, 0 expired drafts" in out and old.receipt_number in out
    for argv in (["--as-of", "2026-13-01"], ["--municipality", "000000"]):
        with pytest.raises(CommandError) as exc:
            call_command("retention_purge", *argv)
        assert exc.value.returncode == 2
    assert cli.main(["retention", "purge", "--as-of", "yesterday"]) == 2
    assert cli.main(["retention", "purge", "--municipality", catalog_a.code, "--as-of", "2026-04-01"]) == 0
    with tenant(catalog_a):
        assert not Application.objects.filter(pk=old.pk).exists()
