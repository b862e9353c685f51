"""Importing resident records: all or nothing, bad rows reported with their line numbers."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

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


class MoveError(ValueError):
    """A 転入 or 転出 the register cannot take; the message says what to fix."""


def _new_number(moved_in_on) -> str:
    # CHOICE: in production the core system assigns the 宛名番号 and madoguchi's register mirrors
    # it; the embedded register gives a 12-digit number (the day + a random six), checked free.
    import secrets

    while True:
        number = f"{moved_in_on:%y%m%d}{secrets.randbelow(10**6):06d}"
        if not ResidentRecord.objects.filter(resident_number=number).exists():
            return number


def record_move_in(municipality, people: list[dict], *, address: str, moved_in_on, actor=None) -> list[int]:
    """Registers the people of a 転入 as residents of `municipality` at `address`, one new
    household headed by the person marked `is_household_head` (else the first). Each person is
    {name, name_kana, birth_date (date), sex, relationship, domicile, family_register_head,
    support_measure}. Returns the new records' ids, in the order given."""
    if not people:
        raise MoveError("転入する人がいません")
    if not address.strip():
        raise MoveError("転入先の住所がありません")
    heads = [p for p in people if p.get("is_household_head")] or people[:1]
    ids = []
    with tenant(municipality), transaction.atomic():
        household = f"H{_new_number(moved_in_on)}"
        for person in people:
            if str(person.get("sex")) not in {"1", "2", "9"}:
                raise MoveError(f"{person.get('name', '')} の性別が読めません")
            row = ResidentRecord(
                municipality=municipality, resident_number=_new_number(moved_in_on), name=person["name"],
                name_kana=person.get("name_kana", ""), birth_date=person["birth_date"], sex=str(person["sex"]),
                address=address.strip(), household_id=household, is_household_head=person is heads[0],
                relationship="世帯主" if person is heads[0] else person.get("relationship", ""),
                domicile=person.get("domicile", ""), family_register_head=person.get("family_register_head", ""),
                support_measure=bool(person.get("support_measure")), resident_since=moved_in_on)
            row.save()
            ids.append(row.pk)
        record("residents.moved_in", actor=actor, data={"records": len(ids), "household": household})
    return ids


def mark_moved_out(municipality, resident_numbers: list[str], *, left_on, actor=None) -> int:
    """The 転出 made final (the destination confirmed the 転入): the records stop being
    residents on `left_on`. Only current residents change; returns how many did."""
    with tenant(municipality), transaction.atomic():
        changed = ResidentRecord.objects.filter(
            resident_number__in=list(resident_numbers)[:100], status=ResidentRecord.Status.RESIDENT,
        ).update(status=ResidentRecord.Status.MOVED_OUT, left_on=left_on, updated_at=timezone.now())
        record("residents.moved_out", actor=actor, data={"records": changed, "left_on": left_on.isoformat()})
    return changed
