"""Seeds a real server's database with applications (run as a separate process with the
server's environment): `python -m tests.exports.seed N ADDRESS…` prints as JSON the receipt
numbers and a reviewer of 危機管理課 (the department that owns 罹災証明書, so the one that
may export it) with password and TOTP secret. Submissions go through
applications.services.submit, as the portal's do."""

import base64

import datetime as dt
import json
import os
import sys
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

import django  # noqa: E402

django.setup()

from madoguchi.applications.services import Upload, submit  # noqa: E402
from madoguchi.identity.models import Person, ResidentLink  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.procedures.models import Procedure  # noqa: E402
from madoguchi.residents.models import ResidentRecord  # noqa: E402
from madoguchi.staff.models import Department, Membership  # noqa: E402
from madoguchi.staff.services import enrol_staff  # noqa: E402
from tests.applications.helpers import PNG, RISAI  # noqa: E402


PASSWORD = "a-long-seed-password"


def reviewer(municipality) -> dict:
    department = Department.unscoped.get(municipality=municipality, code="kikikanri")
    _user, _membership, device, _ = enrol_staff(municipality, "kiki-seed", Membership.Role.REVIEWER, department,
                                                password=PASSWORD)
    return {"username": "kiki-seed", "password": PASSWORD, "totp": base64.b32encode(device.bin_key).decode()}


def main(count: int, addresses: list[str]) -> dict:
    municipality = Municipality.objects.get(code="139998")
    receipts = []
    with tenant(municipality):
        record = ResidentRecord.objects.get(resident_number="100001")
        link = ResidentLink.objects.filter(record=record).select_related("person").first()
        if link is None:
            person = Person.objects.create(
                verified_name=record.name, verified_birth_date=record.birth_date, verified_sex=record.sex,
                verified_address=record.address, verified_at=dt.datetime.now(dt.timezone.utc))
            ResidentLink.objects.create(person=person, record=record, method="automatic")
        else:
            person = link.person
        version = Procedure.objects.get(slug="risai-shoumei").current_version()
        for i in range(count):
            address = addresses[i] if i < len(addresses) else RISAI["property_address"]
            application, _ = submit(version, person, {**RISAI, "property_address": address},
                                    idempotency_key=uuid.uuid4().hex, uploads=[Upload("photo.png", PNG)])
            receipts.append(application.receipt_number)
    return {"receipts": receipts, "staff": reviewer(municipality)}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2:]), ensure_ascii=False))
