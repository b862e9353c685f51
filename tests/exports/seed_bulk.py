"""Seeds a real server's database for the killed-worker test (run as a separate process with
the server's environment): `python -m tests.exports.seed_bulk N` bulk-creates N submitted
applications of 罹災証明書 (as bench/export.py does, so the export takes seconds), enrols a
reviewer of 危機管理課 and requests an export of them through exports.services. Prints JSON:
the export's id, the reviewer's password and TOTP secret."""

import base64
import datetime as dt
import json
import os
import sys
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

import django  # noqa: E402

django.setup()

from madoguchi.applications.models import Application  # noqa: E402
from madoguchi.exports import services  # noqa: E402
from madoguchi.identity.models import Person  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.procedures.models import Procedure  # noqa: E402
from madoguchi.staff.models import Department, Membership  # noqa: E402
from madoguchi.staff.services import enrol_staff  # noqa: E402
from tests.applications.helpers import RISAI  # noqa: E402

PASSWORD = "a-long-seed-password"


def main(count: int) -> dict:
    municipality = Municipality.objects.get(code="139998")
    with tenant(municipality):
        person = Person.objects.create(verified_name="窓口　太郎", verified_birth_date=dt.date(1980, 4, 1),
                                       verified_sex="1", verified_address="東京都窓口市本町一丁目1番1号",
                                       verified_at=dt.datetime.now(dt.timezone.utc))
        procedure = Procedure.objects.get(slug="risai-shoumei")
        version = procedure.current_version()
        now = dt.datetime.now(dt.timezone.utc)
        batch = []
        for i in range(count):
            batch.append(Application(
                municipality=municipality, person=person, procedure=procedure, version=version, status="submitted",
                department_code=procedure.department_code, data=RISAI, receipt_number=f"2026-{i + 1:07d}",
                public_id=uuid.uuid4(), submitted_at=now - dt.timedelta(seconds=count - i), document_sha256="0" * 64))
            if len(batch) == 5000:
                Application.objects.bulk_create(batch)
                batch = []
        Application.objects.bulk_create(batch)
        department = Department.objects.get(code=procedure.department_code)
    user, membership, device, _ = enrol_staff(municipality, "kiki-seed", Membership.Role.REVIEWER, department,
                                              password=PASSWORD)
    with tenant(municipality):
        export = services.request_export(membership, user, procedure, kind="ordinary", fmt="csv_utf8")
    return {"export": export.pk, "public_id": str(export.public_id), "username": "kiki-seed", "password": PASSWORD,
            "totp": base64.b32encode(device.bin_key).decode()}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
