"""The demo: two fictional municipalities with departments and staff. Idempotent."""

from dataclasses import dataclass

from django.db import transaction

from madoguchi.audit.services import record
from madoguchi.municipalities.models import Municipality
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff

# A fixed, published password: the demo is refused in production (DEMO_ALLOWED).
DEMO_PASSWORD = "madoguchi-demo-password"

DEMO_MUNICIPALITIES = [
    {
        # Fictional: 東京都 with municipality number 999, check digit computed (139998).
        "code": "139998", "name": "窓口市", "name_kana": "まどぐちし",
        "contact_phone": "03-0000-0000", "office_hours": "平日 8:30〜17:15",
        "welcome_message": "窓口市のオンライン窓口へようこそ。これはデモ用の架空の自治体です。",
        "departments": [("shimin", "市民課"), ("kosodate", "子育て支援課"), ("fukushi", "福祉課")],
        "staff": [("demo-admin", Membership.Role.ADMINISTRATOR, "shimin"),
                  ("demo-reviewer", Membership.Role.REVIEWER, "kosodate")],
    },
    {
        # Fictional: 大阪府 with municipality number 999 (279994), to show tenant isolation.
        "code": "279994", "name": "見本町", "name_kana": "みほんちょう",
        "contact_phone": "06-0000-0000", "office_hours": "平日 9:00〜17:00",
        "welcome_message": "見本町のオンライン窓口（デモ用の架空の自治体）です。",
        "departments": [("juumin", "住民課")],
        "staff": [("mihon-admin", Membership.Role.ADMINISTRATOR, "juumin")],
    },
]


@dataclass
class DemoLogin:
    municipality: Municipality
    username: str
    role: str
    device: object


def load_demo() -> list[DemoLogin]:
    logins = []
    for spec in DEMO_MUNICIPALITIES:
        with transaction.atomic():
            municipality, created = Municipality.objects.get_or_create(
                code=spec["code"],
                defaults={k: spec[k] for k in ("name", "name_kana", "contact_phone", "office_hours", "welcome_message")},
            )
            departments = {}
            for code, name in spec["departments"]:
                department = Department.unscoped.filter(municipality=municipality, code=code).first()
                if department is None:
                    department = Department.unscoped.create(municipality=municipality, code=code, name=name)
                departments[code] = department
            for username, role, department_code in spec["staff"]:
                user, membership, device, _ = enrol_staff(
                    municipality, username, role, departments[department_code], password=DEMO_PASSWORD
                )
                logins.append(DemoLogin(municipality, username, role, device))
            if created:
                record("demo.loaded", municipality=municipality)
    return logins
