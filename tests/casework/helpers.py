"""Applications for the back-office tests: real ones (submitted and signed through the
applications service) and plain rows in bulk (as bench/inbox_generate.py writes them)."""

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from madoguchi.applications.models import Application
from madoguchi.applications.services import submit
from madoguchi.municipalities.tenancy import tenant
from tests.applications.conftest import version_of
from tests.applications.helpers import key, sign

TENSHUTSU_PROCEDURE = "tenshutsu"
_receipts = itertools.count(1)


def tenshutsu_data(phone="03-0000-0000"):
    today = dt.date.today()
    return {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": phone,
            "move_date": (today + dt.timedelta(days=7)).isoformat(), "new_postal_code": "100-0001",
            "new_address": "東京都千代田区千代田1番1号", "new_municipality": "千代田区", "movers": ["100001"],
            "visit_date": (today + dt.timedelta(days=10)).isoformat()}


def submit_signed(municipality, slug, person, card, data):
    version = version_of(municipality, slug)
    application, _ = submit(version, person, data, idempotency_key=key(), signed=sign(card, version, person, data))
    return application


def bulk_rows(municipality, slug, person, count, *, status="submitted", names=None, start=None):
    """`count` submitted applications written directly (no signature): for lists and counts."""
    version = version_of(municipality, slug)
    start = start or timezone.now() - dt.timedelta(days=1)
    rows = []
    with tenant(municipality):
        for i in range(count):
            name, kana = (names[i % len(names)] if names else ("窓口　太郎", "まどぐち たろう"))
            a = Application(municipality=municipality, person=person, procedure=version.procedure, version=version,
                            status=status, public_id=uuid.uuid4(), receipt_number=f"2026-9{next(_receipts):06d}",
                            submitted_at=start + dt.timedelta(seconds=i), department_code=version.procedure.department_code,
                            applicant_name=name, applicant_kana=kana)
            a.refresh_search()
            rows.append(a)
        Application.objects.bulk_create(rows)
    return rows
