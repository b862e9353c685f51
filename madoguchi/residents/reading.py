"""What other apps read of the resident register: plain snapshots, never the model, so a
certificate or a form cannot change a record by accident. Call inside the caller's
transaction to read one consistent state."""

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass

from django.db import connection

from .models import ResidentRecord, SealRegistration


@dataclass(frozen=True)
class RecordFacts:
    """One record as a certificate prints it, with the version it was read at."""

    id: int
    resident_number: str
    name: str
    name_kana: str
    birth_date: dt.date
    sex: str  # ISO 5218 code
    sex_label: str
    address: str
    household_id: str
    is_household_head: bool
    relationship: str
    status: str
    support_measure: bool
    under_correction: bool
    domicile: str
    family_register_head: str
    updated_at: dt.datetime

    def digest(self) -> str:
        """SHA-256 of the printed facts (canonical JSON): the record version a certificate
        was rendered from, checkable later against the register."""
        facts = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                 for k, v in asdict(self).items() if k not in ("id", "updated_at")}
        return hashlib.sha256(json.dumps(facts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _facts(record: ResidentRecord) -> RecordFacts:
    return RecordFacts(
        id=record.pk, resident_number=record.resident_number, name=record.name, name_kana=record.name_kana,
        birth_date=record.birth_date, sex=record.sex, sex_label=str(record.get_sex_display()), address=record.address,
        household_id=record.household_id, is_household_head=record.is_household_head,
        relationship=record.relationship, status=record.status, support_measure=record.support_measure,
        under_correction=record.under_correction, domicile=record.domicile,
        family_register_head=record.family_register_head, updated_at=record.updated_at)


def facts_of(record_id: int, *, lock: bool = False) -> RecordFacts | None:
    """The record (of the municipality in scope) as it is now; `lock` holds it (PostgreSQL:
    FOR UPDATE) until the caller's transaction ends, so what is printed is what is recorded."""
    rows = ResidentRecord.objects.filter(pk=record_id)
    if lock and connection.features.has_select_for_update:
        rows = rows.select_for_update()
    record = rows.first()
    return None if record is None else _facts(record)


def household_of(facts: RecordFacts) -> list[RecordFacts]:
    """The current residents of the record's household, the head first, then by 宛名番号;
    just the record itself when it has no household number."""
    if not facts.household_id:
        return [facts]
    rows = ResidentRecord.objects.filter(household_id=facts.household_id, status=ResidentRecord.Status.RESIDENT)
    return [_facts(r) for r in sorted(rows, key=lambda r: (not r.is_household_head, r.resident_number))]


@dataclass(frozen=True)
class SealFacts:
    registration_number: str
    registered_on: dt.date
    impression_png: bytes


def seal_of(record_id: int) -> SealFacts | None:
    """The record's current seal registration (None when there is none or it was abolished)."""
    row = SealRegistration.objects.filter(record_id=record_id, abolished_on__isnull=True).first()
    if row is None:
        return None
    return SealFacts(registration_number=row.registration_number, registered_on=row.registered_on,
                     impression_png=bytes(row.impression_png))


def residents_on(day: dt.date):
    """The records (of the municipality in scope) of the people who were residents on `day`:
    registered by then (住民となった年月日, when the core system gives it) and not gone before
    it (転出・死亡 on `day` or later still counts: the reference date is the day's state).
    A query, for counting and narrowing in the database (benefits' eligibility)."""
    from django.db.models import Q

    arrived = Q(resident_since__isnull=True) | Q(resident_since__lte=day)
    stayed = Q(status=ResidentRecord.Status.RESIDENT, left_on__isnull=True) | Q(left_on__gte=day)
    return ResidentRecord.objects.filter(arrived & stayed)


def matching(name: str, birth_date: dt.date, sex: str, *, limit: int = 5) -> list[RecordFacts]:
    """Current residents of the municipality in scope whose normalised name (or its
    substitute-character form), birth date and sex match: the counter's match of a card read
    (never by the individual number). Up to `limit`; the caller wants exactly one."""
    from django.db.models import Q

    from .names import search_key

    key = search_key(name)
    if not key:
        return []
    rows = ResidentRecord.objects.filter(Q(name_key=key) | Q(alternative_key=key), birth_date=birth_date, sex=sex,
                                         status=ResidentRecord.Status.RESIDENT).order_by("pk")[:limit]
    return [_facts(r) for r in rows]
