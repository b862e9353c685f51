"""Retention: closed applications are deleted when their retention class has run out, and
abandoned drafts after a configurable number of days.

Japanese public records (公文書) count their retention period from the first of April
after the fiscal year in which the matter closed (翌年度の4月1日起算): an application
closed on 2026-11-26 (fiscal year 2026) with a 3-year class is kept until 2030-03-31 and
deleted from 2030-04-01. "Closed" is the time of the last transition into a final status
(rejected, completed, withdrawn). `permanent` is never deleted.

Deleting an application deletes everything that belongs to it — its data and signed
document, its sealed individual numbers, attachments (rows and files), history and
notices — in one transaction per application, and writes one audit event that holds
references only (receipt number, procedure, version, reason).
"""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, ProtectedError, Subquery
from django.utils import timezone

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import ProcedureVersion

from .attachments import delete_files
from .models import Application, ApplicationEvent
from .statemachine import FINAL, Status

from madoguchi.core.dates import JST  # noqa: E402
RETENTION_CLASS = re.compile(r"^(\d{1,2})y$")


def retention_years(definition: dict) -> int | None:
    """Years of a definition's retention class; None for `permanent` (never deleted)."""
    value = str(definition.get("retention", ""))
    if value == "permanent":
        return None
    match = RETENTION_CLASS.match(value)
    if not match:
        # The meta-schema admits only known classes; an unknown one is kept, not guessed at.
        return None
    return int(match.group(1))


def fiscal_year(day: dt.date) -> int:
    """The Japanese fiscal year (年度) of a date: April to March."""
    return day.year if day.month >= 4 else day.year - 1


def closed_before(years: int, today: dt.date) -> dt.datetime:
    """Applications closed before this instant have run out their `years` on `today`.

    Closed in fiscal year F, the period starts on 1 April of F+1 and ends on 31 March of
    F+1+years; deletable when F+1+years <= fiscal_year(today), i.e. F < fiscal_year(today) - years.
    """
    return dt.datetime(fiscal_year(today) - years, 4, 1, tzinfo=JST)


def purge_date(closed_at: dt.datetime, years: int) -> dt.date:
    """The first day on which an application closed at `closed_at` may be deleted."""
    return dt.date(fiscal_year(closed_at.astimezone(JST).date()) + 1 + years, 4, 1)


@dataclass
class PurgeReport:
    deleted: list = field(default_factory=list)  # [(receipt or public id, reason)]
    kept: list = field(default_factory=list)  # [(receipt or public id, why it could not be deleted)]

    def count(self, reason: str) -> int:
        return sum(1 for _, r in self.deleted if r == reason)


def expired_closed(municipality, today: dt.date):
    """The closed applications of a municipality whose retention has run out on `today`."""
    with tenant(municipality):
        closed_at = (ApplicationEvent.objects.filter(application=OuterRef("pk"), to_status=OuterRef("status"))
                     .values("application").annotate(at=Max("at")).values("at"))
        versions = (ProcedureVersion.objects.filter(applications__status__in=sorted(FINAL))
                    .distinct().only("pk", "definition"))
        for version in versions:
            years = retention_years(version.definition)
            if years is None:
                continue
            yield from (Application.objects.filter(version=version, status__in=sorted(FINAL))
                        .annotate(closed_at=Subquery(closed_at))
                        .filter(closed_at__lt=closed_before(years, today))
                        .order_by("pk").values_list("pk", flat=True)
                        .iterator())


def expired_drafts(municipality, now: dt.datetime):
    """Drafts (including correction drafts) nobody has touched for DRAFT_RETENTION_DAYS."""
    cutoff = now - dt.timedelta(days=settings.APPLICATION_DRAFT_RETENTION_DAYS)
    with tenant(municipality):
        yield from (Application.objects.filter(status=Status.DRAFT, updated_at__lt=cutoff)
                    .order_by("pk").values_list("pk", flat=True).iterator())


def delete_application(municipality, pk: int, reason: str) -> str:
    """Deletes one application and all that belongs to it; returns its receipt number (or id).

    Raises ProtectedError when another record still needs it (it is then left whole)."""
    with tenant(municipality), transaction.atomic():
        application = (Application.objects.select_for_update().select_related("procedure", "version")
                       .filter(pk=pk).first())
        if application is None:
            return ""  # deleted meanwhile by another run
        label = application.receipt_number or str(application.public_id)
        files = []
        for owner in [application, *Application.objects.filter(corrects=application)]:
            for a in owner.attachments.all():
                files += [a.file.name, *([a.sanitised_file.name] if a.sanitised_file else [])]
        record("applications.purged", actor=("system", "retention"), obj=application, data={
            "receipt": application.receipt_number, "procedure": application.procedure.slug,
            "version": application.version.number, "status": application.status, "reason": reason,
            "retention": application.version.definition.get("retention", "")})
        application.delete()
        # The files go only when the rows are gone for good.
        transaction.on_commit(lambda: delete_files(files))
    return label


def purge(municipality, *, today: dt.date | None = None, now: dt.datetime | None = None, dry_run: bool = False,
          progress=None) -> PurgeReport:
    """Deletes a municipality's expired applications and drafts. `progress(done, total)` is
    called as it goes; with `dry_run` nothing is deleted and the report lists what would be."""
    now = now or timezone.now()
    today = today or now.astimezone(JST).date()
    work = [(pk, "retention") for pk in expired_closed(municipality, today)]
    work += [(pk, "draft_expired") for pk in expired_drafts(municipality, now)]
    report = PurgeReport()
    for done, (pk, reason) in enumerate(work, start=1):
        if dry_run:
            with tenant(municipality):
                app = Application.objects.filter(pk=pk).values("receipt_number", "public_id").first()
            if app:
                report.deleted.append((app["receipt_number"] or str(app["public_id"]), reason))
        else:
            try:
                label = delete_application(municipality, pk, reason)
            except ProtectedError as exc:
                report.kept.append((str(pk), f"still referenced by {sorted({o._meta.label for o in exc.protected_objects})}"))
            else:
                if label:
                    report.deleted.append((label, reason))
        if progress is not None:
            progress(done, len(work))
    return report
