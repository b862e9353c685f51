"""Reading applications: the catalog, a resident's own application, serialisations, export
rows, notices, and the audited reveal of an individual number.
"""

import json
import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures import definition as defn
from madoguchi.procedures.models import ProcedureVersion

from .. import mynumber
from ..models import Application, IndividualNumber, Notice
from ..statemachine import Status
from .common import ApplicationError, _aad, _require_reviewer


def catalog(query: str = "") -> list[ProcedureVersion]:
    """The current published version of each procedure of the municipality in scope (one
    query), filtered by a search over titles, description and keywords."""
    query = (query or "").strip().lower()[:100]
    found, seen = [], set()
    for version in (ProcedureVersion.objects.filter(status=ProcedureVersion.Status.PUBLISHED)
                    .select_related("procedure").order_by("procedure__slug", "-number")):
        if version.procedure_id in seen:
            continue
        seen.add(version.procedure_id)
        d = version.definition
        haystack = " ".join([d["title"]["ja"], d["title"]["en"], d.get("description", {}).get("ja", ""),
                             d.get("description", {}).get("en", ""), *d.get("keywords", [])]).lower()
        if not query or query in haystack:
            found.append(version)
    return found


def published(slug) -> ProcedureVersion:
    """The current published version of a procedure of the municipality in scope."""
    from madoguchi.procedures.models import Procedure

    # The definitions' slug pattern (metaschema.json): anything else names no procedure (and a
    # NUL would be an error of PostgreSQL's, not a 404).
    ok = isinstance(slug, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", slug) is not None
    procedure = Procedure.objects.filter(slug=slug).first() if ok else None
    version = procedure.current_version() if procedure is not None else None
    if version is None:
        raise ApplicationError("not_found", _("この手続きはありません。"), status=404)
    return version


def own(person, public_id, *, draft: bool | None = None) -> Application:
    """The person's own application (or draft) by its public id; anything else — another
    resident's, another municipality's, a malformed id — is the same 404."""
    import uuid

    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        public_id = None
    application = (Application.objects.filter(public_id=public_id, person=person)
                   .select_related("version", "procedure", "municipality")
                   .first() if public_id is not None else None)
    if application is None or (draft is True and application.status != Status.DRAFT) \
            or (draft is False and application.status == Status.DRAFT):
        raise ApplicationError("not_found", _("この申請はありません。"), status=404)
    return application


def serialize(application: Application) -> dict:
    """The ordinary serialisation (API, lists): masked data, never a number or the document."""
    return {
        "id": str(application.public_id), "receipt_number": application.receipt_number,
        "procedure": application.procedure.slug, "version": application.version.number,
        "status": application.status, "fee_yen": application.fee_yen, "data": application.data,
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "attachments": [{"name": a.name, "sha256": a.sha256, "size": a.size, "type": a.content_type,
                         "sanitisation": a.sanitisation} for a in application.attachments.all()],
        "signed": application.signature is not None,
    }


def export_row(application: Application) -> dict:
    """One row of an ordinary export, by the definition's column mapping (numbers are never mapped)."""
    row = {"受付番号": application.receipt_number, "状態": application.status}
    for column in application.version.definition.get("export", []):
        try:
            value = defn.get_pointer(application.data, column["pointer"])
        except (KeyError, IndexError, ValueError, TypeError):
            value = ""
        row[column["column"]] = value if isinstance(value, str | int) else json.dumps(value, ensure_ascii=False)
    return row


def reveal(application: Application, pointer: str, user) -> str:
    """The individual number at `pointer`, for a reviewer of the owning department; every
    reveal is an audit event (without the number)."""
    with tenant(application.municipality), transaction.atomic():
        _require_reviewer(application, user)
        sealed = IndividualNumber.objects.filter(application=application, pointer=pointer).first()
        if sealed is None:
            raise ApplicationError("not_found", _("この項目に個人番号はありません。"), status=404)
        value = mynumber.unseal(sealed.key_id, sealed.sealed, _aad(application, pointer)).decode()
        record("applications.mynumber_revealed", actor=user, obj=application,
               data={"receipt": application.receipt_number, "pointer": pointer})
    return value


def notices_of(person):
    return Notice.objects.filter(person=person).select_related("application").order_by("-created_at", "-id")


def mark_notice_read(person, notice_id) -> Notice:
    with transaction.atomic():
        notice = (Notice.objects.select_for_update().filter(pk=notice_id, person=person).first()
                  if isinstance(notice_id, int) else None)
        if notice is None:
            raise ApplicationError("not_found", _("このお知らせはありません。"), status=404)
        if notice.read_at is None:
            notice.read_at = timezone.now()
            notice.save(update_fields=["read_at"])
            record("applications.notice_read", actor=("resident", str(person.public_id)), obj=notice,
                   data={"kind": notice.kind})
    return notice


def latest_by_procedure(person, slugs) -> dict:
    """The person's newest application (not a draft) of each procedure slug in the municipality
    in scope: {slug: {"public_id", "status", "status_label"}} (moving's follow-up list)."""
    latest = {}
    rows = (Application.objects.filter(person=person, procedure__slug__in=list(slugs)[:100], corrects__isnull=True)
            .exclude(status=Status.DRAFT).select_related("procedure").order_by("-created_at", "-id"))
    for a in rows[:500]:
        latest.setdefault(a.procedure.slug, {"public_id": a.public_id, "status": a.status,
                                             "status_label": a.get_status_display()})
    return latest


def return_comment(application: Application) -> str:
    return (application.events.filter(to_status=Status.RETURNED).order_by("-at", "-id")
            .values_list("comment", flat=True).first() or "")


def by_public_id(public_id) -> Application:
    """The application of the municipality in scope by its public id, for the background
    work of other apps (documents issues its receipt and decision notice from it). Raises
    Application.DoesNotExist for an unknown id."""
    return Application.objects.select_related("version", "person").get(public_id=public_id)


def resident_summary(person, *, limit: int = 5) -> dict:
    """What the portal's top page shows a signed-in resident first: the applications that
    need them (補正依頼, 支払い待ち), their other open applications and unread notices.
    Plain data for templates (the title in the current language); three queries."""
    from madoguchi.procedures.forms import text
    from .. import notices

    def rows(queryset):
        return [{"public_id": a.public_id, "title": text(a.version.definition["title"]),
                 "receipt_number": a.receipt_number, "status": a.status, "status_label": a.get_status_display(),
                 "fee_yen": a.fee_yen, "submitted_at": a.submitted_at}
                for a in queryset.select_related("version").order_by("-submitted_at", "-id")[:limit]]

    mine = Application.objects.filter(person=person, corrects__isnull=True)
    needing = {Status.RETURNED, Status.PAYMENT_REQUIRED}
    from ..statemachine import OPEN
    unread = list(Notice.objects.filter(person=person, read_at__isnull=True).select_related("application")
                  .order_by("-created_at", "-id")[:limit])
    return {
        "action": rows(mine.filter(status__in=needing)),
        "open": rows(mine.filter(status__in=OPEN - needing)),
        "unread": [{"id": n.pk, "text": notices.text(n), "created_at": n.created_at,
                    "application": n.application.public_id if n.application_id else None} for n in unread],
        "unread_count": Notice.objects.filter(person=person, read_at__isnull=True).count(),
    }


def notice_rows(person, *, limit: int = 100) -> list[dict]:
    """The resident's notices, newest first, as plain data (text rendered now, unread marked)."""
    from .. import notices

    return [{"id": n.pk, "text": notices.text(n), "created_at": n.created_at, "unread": n.read_at is None,
             "application": n.application.public_id if n.application_id else None}
            for n in notices_of(person)[:limit]]


def member_names(application) -> list[tuple[str, str]]:
    """(resident number, name) of the household members an application chose, so staff
    pages and documents name them as the resident saw them. Looked up by number without the
    household or status filter: a member who has since moved is still named."""
    definition = application.version.definition
    if not definition.get("household_selection"):
        return []
    from madoguchi.procedures.forms import household_member_values
    from madoguchi.residents.models import ResidentRecord

    numbers = household_member_values(definition, application.data)
    if not numbers:
        return []
    return list(ResidentRecord.objects.filter(municipality_id=application.municipality_id,
                                              resident_number__in=numbers)
                .values_list("resident_number", "name"))


def applicant_person_ids(procedure_slug: str, status: str) -> list[int]:
    """The residents with an application of this procedure in this status (drafts never
    count): a broadcast's 申請者 segment (notices)."""
    if status == Status.DRAFT:
        return []
    return sorted(set(Application.objects.filter(procedure__slug=procedure_slug, status=status)
                      .values_list("person_id", flat=True)))


def procedure_choices() -> list[tuple[str, str]]:
    """(slug, title) of the municipality's procedures that have a published version."""
    from madoguchi.procedures.forms import text

    return [(v.procedure.slug, text(v.definition["title"])) for v in catalog()]


def status_choices() -> list[tuple[str, str]]:
    """The statuses an application can be in after submission, with their labels."""
    return [(value, label) for value, label in Status.choices if value != Status.DRAFT]
