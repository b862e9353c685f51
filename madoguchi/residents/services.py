"""Importing resident records: all or nothing, bad rows reported with their line numbers."""

from dataclasses import dataclass, field

from django.db import transaction

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant

from .adapters.base import RecordRow, RowError
from .models import ResidentRecord

MAX_REPORTED_ERRORS = 100
FIELDS = ["name", "name_kana", "name_alternative", "birth_date", "sex", "address", "household_id",
          "is_household_head", "relationship", "status", "support_measure", "alphabet_name", "common_name",
          "domicile", "family_register_head", "under_correction", "resident_since", "left_on", "flags"]


class ImportRejected(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} bad row(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    lines: list[int] = field(default_factory=list)


def import_records(municipality, source, *, actor=None, progress=None, batch_size=1000) -> ImportResult:
    """Reads every row first; writes only when all are good, in one transaction.

    Rows are matched to existing records by 宛名番号; a number seen twice in one file is
    an error. Raises ImportRejected with the bad rows (first 100) when any row is bad.
    """
    rows: list[RecordRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for item in source.rows():
        if isinstance(item, RowError):
            errors.append(item)
        elif item.resident_number in seen:
            errors.append(RowError(item.line, f"宛名番号 {item.resident_number} is also on line {seen[item.resident_number]}"))
        else:
            seen[item.resident_number] = item.line
            rows.append(item)
        if progress:
            progress(1)
    if errors:
        raise ImportRejected(errors[:MAX_REPORTED_ERRORS])

    result = ImportResult()
    with tenant(municipality), transaction.atomic():
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            existing = {r.resident_number: r for r in ResidentRecord.objects.filter(
                resident_number__in=[row.resident_number for row in batch])}
            to_create, to_update = [], []
            for row in batch:
                current = existing.get(row.resident_number)
                if current is None:
                    created = ResidentRecord(municipality=municipality, resident_number=row.resident_number,
                                             **{f: getattr(row, f) for f in FIELDS})
                    created.refresh_keys()
                    to_create.append(created)
                elif any(getattr(current, f) != getattr(row, f) for f in FIELDS):
                    for f in FIELDS:
                        setattr(current, f, getattr(row, f))
                    current.refresh_keys()
                    to_update.append(current)
                else:
                    result.unchanged += 1
            ResidentRecord.objects.bulk_create(to_create)
            if to_update:
                ResidentRecord.objects.bulk_update(
                    to_update, FIELDS + ["name_key", "kana_key", "alternative_key", "updated_at"])
            result.created += len(to_create)
            result.updated += len(to_update)
        record("residents.imported", actor=actor, data={
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged})
    return result


def register_seal(municipality, resident_number: str, *, registration_number: str, impression_png: bytes,
                  registered_on, actor=None):
    """Records a seal registration delivered by the registration system (idempotent by
    record: a new delivery replaces the impression)."""
    from .models import SealRegistration

    with tenant(municipality), transaction.atomic():
        record_ = ResidentRecord.objects.get(resident_number=resident_number)
        row, _created = SealRegistration.objects.update_or_create(
            municipality=municipality, record=record_, defaults={
                "registration_number": registration_number, "impression_png": impression_png,
                "registered_on": registered_on, "abolished_on": None})
        record("residents.seal_registered", actor=actor, obj=row, data={"registration_number": registration_number})
    return row
