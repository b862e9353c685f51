"""The back office's one way to read applications (申請管理 and 基幹連携).

`casework` and `exports` read applications only through this module (import-linter's
"applications-models" contract forbids them `applications.models`): the boundary an
LGWAN-side back office would need, since everything it reads crosses here. Changes go
through `applications.services` (and `applications.assignment`).

What it returns: the inbox rows and the review page's application are model instances,
read-only, for templates (converting them would cost queries and nothing else); the rest
is plain data (dataclasses, dicts, tuples). Callers never build queries on `Application`
themselves: they describe what they want (a department, filters, a keyset position) and
this module writes the query, so the indexes it relies on (models.Application.Meta) and
the query it makes are read in one place (docs/casework.md has the figures).
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.fields import BooleanField

from madoguchi.core.dates import JST
from madoguchi.procedures import definition as defn

from .models import Application, Attachment, IndividualNumber, normalise, query_grams
from .statemachine import Status

# The statuses the back office lists: every status an application reaches once submitted.
LISTED = [s for s in Status.values if s != Status.DRAFT]
SORTS = {"new": ("-submitted_at", "-id"), "old": ("submitted_at", "id")}
SEARCH_GIN_MAX = 2000  # candidates up to which a search goes through the GIN index
# What an audit event of an application names as its object type.
AUDIT_OBJECT_TYPE = Application._meta.label_lower


def _japan_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=JST)


def _department(code: str | None):
    """A department's applications: only a submitted application carries a department
    (Application.snapshot_for_casework), so a draft never appears; the status check stays
    as a second guard. No department (None): nothing."""
    if not code:
        return Application.objects.none()
    return Application.objects.filter(department_code=code).exclude(status=Status.DRAFT)


def search_filter(queryset, text: str):
    """Applications whose applicant name, kana or receipt number contains `text` (after the
    same normalisation as the stored key). PostgreSQL: the GIN index over the grams finds
    the candidates, the substring check drops bigrams that matched apart. SQLite: the
    substring check alone (a scan; the embedded install holds far fewer applications)."""
    key = normalise(text)
    if not key:
        return queryset
    if connection.vendor == "postgresql":
        grams = RawSQL("string_to_array(search_grams, ' ') @> %s::text[]", (query_grams(key),),
                       output_field=BooleanField())
        # The planner multiplies the grams' frequencies and so underestimates a common name
        # (いのうえ: 9 rows expected, 22,000 found), then sorts thousands of rows. Probe
        # first, bounded: few candidates → the GIN index; many → no grams condition, so the
        # newest-first index is walked and the common matches come soon (docs/casework.md).
        if queryset.filter(grams).order_by()[:SEARCH_GIN_MAX].count() < SEARCH_GIN_MAX:
            queryset = queryset.filter(grams)
    return queryset.filter(search_key__contains=key)


# -- the inbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: one department's applications under these filters."""

    department_code: str | None
    procedure: str = ""  # slug
    status: str = ""
    date_from: dt.date | None = None  # submitted, in Japan, inclusive
    date_to: dt.date | None = None
    assignee: int | str | None = None  # None: anyone; "none": unassigned; a user id
    q: str = ""
    sort: str = "new"
    after: tuple[dt.datetime, int] | None = None  # keyset position (submitted_at, id)


@dataclass
class InboxRows:
    rows: list  # Application instances (only the inbox's columns loaded), read-only
    counts: dict  # status → count, each at most the cap
    capped: set = field(default_factory=set)  # statuses with more than the cap
    next_after: tuple[dt.datetime, int] | None = None  # where the next page starts, if any


def _inbox_base(f: InboxFilter):
    from madoguchi.procedures.models import Procedure

    qs = _department(f.department_code)
    if f.procedure:
        # Resolved first, so the row and count queries use the procedure's indexes directly.
        procedure_id = Procedure.objects.filter(slug=f.procedure).values_list("id", flat=True).first()
        qs = qs.filter(procedure_id=procedure_id) if procedure_id else qs.none()
    if f.date_from:
        qs = qs.filter(submitted_at__gte=_japan_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(submitted_at__lt=_japan_midnight(f.date_to + dt.timedelta(days=1)))
    if f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee is not None and f.assignee != "":
        qs = qs.filter(assignee_id=int(f.assignee))
    if f.q:
        qs = search_filter(qs, f.q)
    return qs


def inbox(f: InboxFilter, *, page_size: int, count_cap: int, search_count_cap: int) -> InboxRows:
    """One page of a department's inbox (keyset pagination on submitted_at, id) and the
    counts per status under the same filters. A constant number of queries whatever the
    page size: the procedure's id (when filtered by one), the rows, the counts."""
    base = _inbox_base(f)
    rows_qs = base.filter(status=f.status) if f.status else base
    if f.after:
        at, pk = f.after
        if f.sort == "new":
            rows_qs = rows_qs.filter(Q(submitted_at__lt=at) | Q(submitted_at=at, id__lt=pk))
        else:
            rows_qs = rows_qs.filter(Q(submitted_at__gt=at) | Q(submitted_at=at, id__gt=pk))
    rows = list(rows_qs.select_related("procedure", "assignee").only(
        "public_id", "receipt_number", "status", "submitted_at", "applicant_name", "applicant_kana", "fee_yen",
        "procedure__slug", "assignee__username", "municipality_id", "department_code", "channel")
        .order_by(*SORTS[f.sort])[:page_size + 1])
    next_after = None
    if len(rows) > page_size:
        last = rows[page_size - 1]
        next_after = (last.submitted_at, last.pk)
    rows = rows[:page_size]
    # Counts per status, each capped: COUNT(*) over at most count_cap + 1 index entries, so
    # a department with 500,000 completed applications costs the same as one with 50 (a
    # full GROUP BY there takes 300 ms). One query per status: constant per page.
    if f.q:
        # A search: the matches' statuses, at most search_count_cap of them, in one query (a
        # count per status would run the search nine times). Past the cap every count is
        # "at least".
        statuses = list(base.order_by().values_list("status", flat=True)[:search_count_cap + 1])
        counts = {s: statuses[:search_count_cap].count(s) for s in LISTED}
        capped = {s for s in LISTED if counts[s]} if len(statuses) > search_count_cap else set()
    else:
        counts = {s: base.filter(status=s).order_by()[:count_cap + 1].count() for s in LISTED}
        capped = {s for s, n in counts.items() if n > count_cap}
        counts = {s: min(n, count_cap) for s, n in counts.items()}
    return InboxRows(rows=rows, counts=counts, capped=capped, next_after=next_after)


# -- one application and its review page ---------------------------------------------------


def for_department(code: str | None, public_id) -> Application | None:
    """The department's application (with what the review page shows joined), or None."""
    return _department(code).filter(public_id=public_id).select_related(
        "procedure", "version", "person", "assignee").first()


def many_for_department(code: str | None, public_ids) -> list[Application]:
    """The department's applications among `public_ids`, oldest submitted first."""
    return list(_department(code).filter(public_id__in=list(public_ids)).order_by("submitted_at", "id"))


def attachments_of(application: Application) -> list[Attachment]:
    return list(application.attachments.order_by("id"))


def attachment_of(application: Application, attachment_id: int) -> Attachment | None:
    return application.attachments.filter(pk=attachment_id).first()


def events_of(application: Application) -> list:
    """The status history, oldest first."""
    return list(application.events.order_by("at", "id"))


def mynumber_fields(application: Application, labels: dict) -> list[dict]:
    """The places of the application's sealed individual numbers, each with its masked
    value (from the data, which never holds a number in clear) and the label `labels`
    gives the top-level field. The number itself is opened only by
    applications.services.reveal, which audits it."""
    out = []
    for pointer in IndividualNumber.objects.filter(application=application).order_by("pointer").values_list(
            "pointer", flat=True):
        top = pointer.strip("/").split("/")[0]
        try:
            masked = defn.get_pointer(application.data, pointer)
        except (KeyError, IndexError, ValueError, TypeError):
            masked = ""
        out.append({"pointer": pointer, "label": labels.get(top, top), "masked": masked})
    return out


@dataclass(frozen=True)
class SignatureRecord:
    """The signature as verified when the application was stored: the "sign" part of the
    verification record (verdict, chain, revocation, the signer's four facts) and the hash
    of the signed document."""

    sign: dict
    document_sha256: str

    @property
    def facts(self) -> dict:
        return self.sign.get("facts") or {}


def signature_record(application: Application) -> SignatureRecord | None:
    sign = (application.verification or {}).get("sign")
    if not sign:
        return None
    return SignatureRecord(sign=sign, document_sha256=application.document_sha256)


# -- exports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilter:
    """The applications an export covers: a procedure's, of the department that owns it."""

    procedure_id: int
    department_code: str
    status: str = ""
    date_from: dt.date | None = None  # submitted, in Japan, inclusive
    date_to: dt.date | None = None


@dataclass(frozen=True)
class ExportApplication:
    """What an ordinary export row is made of (no model instance: no query per row)."""

    receipt_number: str
    status: str
    data: dict
    version_id: int
    submitted_at: dt.datetime


def _export_queryset(f: ExportFilter):
    """Exactly what casework shows the owning department, never drafts or correction drafts."""
    query = Application.objects.filter(procedure_id=f.procedure_id, department_code=f.department_code,
                                       submitted_at__isnull=False, corrects__isnull=True)
    query = query.exclude(status=Status.DRAFT)
    if f.status:
        query = query.filter(status=f.status)
    if f.date_from:
        query = query.filter(submitted_at__gte=_japan_midnight(f.date_from))
    if f.date_to:
        query = query.filter(submitted_at__lt=_japan_midnight(f.date_to + dt.timedelta(days=1)))
    return query


def export_count(f: ExportFilter) -> int:
    return _export_queryset(f).count()


def export_applications(f: ExportFilter, chunk: int) -> Iterator[ExportApplication]:
    """The covered applications, oldest submitted first, streamed `chunk` rows at a time."""
    query = (_export_queryset(f).order_by("submitted_at", "id")
             .values_list("receipt_number", "status", "data", "version_id", "submitted_at"))
    for values in query.iterator(chunk_size=chunk):
        yield ExportApplication(*values)


def export_number_count(f: ExportFilter) -> int:
    return IndividualNumber.objects.filter(application__in=_export_queryset(f)).count()


def export_numbers(f: ExportFilter, chunk: int) -> Iterator[tuple[Application, str]]:
    """(application, pointer) of every sealed individual number of the covered applications,
    in submission order; the caller opens each through applications.services.reveal."""
    query = (IndividualNumber.objects.filter(application__in=_export_queryset(f))
             .select_related("application", "application__procedure").order_by("application__submitted_at", "id"))
    for sealed in query.iterator(chunk_size=chunk):
        yield sealed.application, sealed.pointer


__all__ = ["LISTED", "SORTS", "AUDIT_OBJECT_TYPE", "InboxFilter", "InboxRows", "inbox", "search_filter",
           "for_department", "many_for_department", "attachments_of", "attachment_of", "events_of",
           "mynumber_fields", "SignatureRecord", "signature_record", "ExportFilter", "ExportApplication",
           "export_count", "export_applications", "export_number_count", "export_numbers"]
