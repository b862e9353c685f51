"""The demo: two fictional municipalities with departments and staff. Idempotent."""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

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
        "contact_phone": "03-0000-0000", "office_hours": "平日 8:30〜17:15", "office_hours_en": "Weekdays 8:30–17:15",
        "welcome_message": "窓口市のオンライン窓口へようこそ。これはデモ用の架空の自治体です。",
        "welcome_message_en": "Welcome to Madoguchi City's online city hall. This is a fictional municipality for demonstration.",
        # Every department the starter catalog routes to, so each procedure has an inbox.
        "departments": [("shimin", "市民課"), ("kosodate", "子育て支援課"), ("fukushi", "福祉課"),
                        ("kankyo", "環境課"), ("toshokan", "図書館"), ("kikikanri", "危機管理課"),
                        ("senkyo", "選挙管理委員会事務局")],
        # demo-cashier: 会計担当 of 環境課 (粗大ごみ's fees): records 窓口払い and refunds.
        # demo-fukushi reviews 福祉課's inbox (the online 確認書 of a benefit); demo-approver is
        # the second administrator a benefit's payment run needs (four eyes: docs/benefits.md).
        "staff": [("demo-admin", Membership.Role.ADMINISTRATOR, "shimin"),
                  ("demo-reviewer", Membership.Role.REVIEWER, "kosodate"),
                  ("demo-cashier", Membership.Role.VIEWER, "kankyo", "cashier"),
                  ("demo-fukushi", Membership.Role.REVIEWER, "fukushi"),
                  ("demo-approver", Membership.Role.ADMINISTRATOR, "fukushi")],
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
                defaults={k: spec[k] for k in ("name", "name_kana", "contact_phone", "office_hours", "welcome_message")
                          + tuple(k for k in ("office_hours_en", "welcome_message_en") if k in spec)},
            )
            departments = {}
            for code, name in spec["departments"]:
                department = Department.unscoped.filter(municipality=municipality, code=code).first()
                if department is None:
                    department = Department.unscoped.create(municipality=municipality, code=code, name=name)
                departments[code] = department
            for username, role, department_code, *flags in spec["staff"]:
                user, membership, device, _ = enrol_staff(
                    municipality, username, role, departments[department_code], password=DEMO_PASSWORD,
                    cashier="cashier" in flags,
                )
                logins.append(DemoLogin(municipality, username, role, device))
            if created:
                record("demo.loaded", municipality=municipality)
    return logins


# Fictional residents of 窓口市, and virtual cards for two of them (PINs printed by
# `madoguchi demo`): a newcomer can sign in right after `make run`.
DEMO_RESIDENTS = [
    # 宛名番号, name, kana, birth, sex, address, household, head, relationship, support measure
    ("100001", "窓口　太郎", "まどぐち たろう", dt.date(1980, 4, 1), "1", "東京都窓口市本町一丁目1番1号", "H0001", True, "世帯主", False),
    ("100002", "窓口　花子", "まどぐち はなこ", dt.date(1982, 8, 15), "2", "東京都窓口市本町一丁目1番1号", "H0001", False, "妻", False),
    ("100003", "窓口　一郎", "まどぐち いちろう", dt.date(2015, 5, 5), "1", "東京都窓口市本町一丁目1番1号", "H0001", False, "子", False),
    ("100004", "見本　さくら", "みほん さくら", dt.date(1995, 3, 3), "2", "東京都窓口市南町三丁目3番3号", "H0002", True, "世帯主", True),
]
# 本籍 by household (fictional; a foreign resident would have none).
DEMO_DOMICILE = {"H0001": "東京都窓口市本町一丁目1番地", "H0002": "北海道見本市中央一丁目2番地"}
DEMO_FAMILY_REGISTER_HEAD = {"H0001": "窓口　太郎", "H0002": "見本　さくら"}
DEMO_CARDS = [
    # card name, 宛名番号 of its holder
    ("taro", "100001"),
    ("hanako", "100002"),
]
DEMO_PIN, DEMO_PASSWORD_SIGN, DEMO_TEXT_PIN = "1234", "MADO2026", "5678"


class DemoRecordSource:
    """The demo residents as an import source (the same path as a core system's CSV).
    Registered as the `demo` resident-record source where the demo is allowed (apps.py)."""

    def __init__(self, location: str = "", encoding: str = ""):
        pass  # the rows are the fixed DEMO_RESIDENTS: no delivery to read

    def size_hint(self):
        return len(DEMO_RESIDENTS)

    def rows(self):
        from madoguchi.residents.adapters.base import RecordRow

        for line, (number, name, kana, birth, sex, address, household, head, rel, support) in enumerate(
                DEMO_RESIDENTS, start=2):
            yield RecordRow(line=line, resident_number=number, name=name, name_kana=kana, name_alternative="",
                            birth_date=birth, sex=sex, address=address, household_id=household,
                            is_household_head=head, relationship=rel, status="resident", support_measure=support,
                            alphabet_name="", common_name="", domicile=DEMO_DOMICILE.get(household, ""),
                            family_register_head=DEMO_FAMILY_REGISTER_HEAD.get(household, ""))


def load_demo_residents_and_cards(data_dir: Path) -> list[tuple[str, Path]]:
    """Resident records for 窓口市, virtual cards for two of them, fresh CRLs indexed.
    Returns (card name, card directory) pairs."""
    from madoguchi.card import virtual
    from madoguchi.pki.commands import load_trust
    from madoguchi.pki.crlindex import RevocationStore, crl_dir
    from madoguchi.pki.devca import DevCA
    from madoguchi.residents.adapters.base import open_source
    from madoguchi.residents.services import import_records

    municipality = Municipality.objects.get(code=DEMO_MUNICIPALITIES[0]["code"])
    import_records(municipality, open_source("demo", "", ""))
    from madoguchi.procedures.services import install_catalog

    install_catalog(municipality)  # the starter catalog of ten procedures (idempotent)
    ca = DevCA.open(data_dir)
    cards = []
    by_number = {r[0]: r for r in DEMO_RESIDENTS}
    for card_name, number in DEMO_CARDS:
        directory = data_dir / "cards" / card_name
        if not directory.exists():
            _, name, _, birth, sex, address, *_ = by_number[number]
            virtual.issue(directory, ca, virtual.Holder(name=name, address=address, birth=birth, sex=sex),
                          pin=DEMO_PIN, password=DEMO_PASSWORD_SIGN, text_pin=DEMO_TEXT_PIN)
        cards.append((card_name, directory))
    # Revocation is checked fail-closed: index the dev CA's current CRLs (valid a week).
    trust = load_trust(str(data_dir))
    store = RevocationStore(crl_dir(data_dir))
    for purpose in ("auth", "sign"):
        store.import_crl(ca.crl(purpose, next_update=dt.timedelta(days=7)).public_bytes(Encoding.DER), trust)
    from madoguchi.documents.services import ensure_demo

    from madoguchi.notices import vapid

    from madoguchi.certificates.services import ensure_types

    for spec in DEMO_MUNICIPALITIES:  # the development LGPKI CA, signing certificates and seals (issue 9)
        ensure_demo(Municipality.objects.get(code=spec["code"]))
        vapid.ensure(spec["code"])  # Web Push (issue 16): the municipality's VAPID key
        ensure_types(Municipality.objects.get(code=spec["code"]))  # certificates issued online (issue 20)
    from madoguchi.bookings.services import ensure_demo as ensure_counter

    from madoguchi.moving.services import ensure_demo as ensure_follow_ups

    for spec in DEMO_MUNICIPALITIES:  # a counter to book a visit to, what follows a move (issue 23)
        ensure_counter(Municipality.objects.get(code=spec["code"]))
        ensure_follow_ups(Municipality.objects.get(code=spec["code"]))
    # 太郎 has a seal registration (印鑑登録証明書 in the demo); 花子 has none (the refusal).
    from madoguchi.documents.seal import demo_personal_seal
    from madoguchi.residents.services import register_seal

    register_seal(municipality, "100001", registration_number="S-000101", impression_png=demo_personal_seal("窓口"),
                  registered_on=dt.date(2020, 4, 1))
    return cards
