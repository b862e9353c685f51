"""Run as a separate process against a fresh database: concurrent submissions from threads,
each with its own database connection. Prints a JSON report (test_concurrency_pg.py)."""

import datetime as dt
import json
import os
import sys
import threading
import uuid


def migrate_with_taro():
    """Migrates the fresh database and makes 窓口市 with its catalog and 窓口　太郎, a Person
    linked to his 住民記録 (after django.setup(); shared with tests/payments/concurrent_pay.py)."""
    from django.core.management import call_command

    from madoguchi.identity.models import Person, ResidentLink
    from madoguchi.municipalities.models import Municipality
    from madoguchi.procedures.services import install_catalog
    from madoguchi.residents.models import ResidentRecord

    call_command("migrate", verbosity=0)
    municipality = Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし")
    install_catalog(municipality)
    person = Person.objects.create(verified_name="窓口　太郎", verified_birth_date=dt.date(1980, 4, 1), verified_sex="1",
                                   verified_address="東京都窓口市本町一丁目1番1号", verified_at=dt.datetime.now(dt.UTC))
    record = ResidentRecord.unscoped.create(municipality=municipality, resident_number="100001", name="窓口　太郎",
                                            birth_date=dt.date(1980, 4, 1), sex="1", address="東京都窓口市本町一丁目1番1号",
                                            household_id="H1", is_household_head=True)
    ResidentLink.unscoped.create(municipality=municipality, person=person, record=record, method="automatic")
    return municipality, person


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import connection

    from madoguchi.applications.models import Application
    from madoguchi.applications.services import ApplicationError, submit
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.procedures.models import Procedure

    municipality, person = migrate_with_taro()
    other = Person.objects.create(verified_name="窓口　花子", verified_birth_date=dt.date(1982, 8, 15), verified_sex="2",
                                  verified_address="東京都窓口市本町一丁目1番1号", verified_at=dt.datetime.now(dt.UTC))
    with tenant(municipality):
        version = Procedure.objects.get(slug="toshokan-riyou").current_version()
    connection.close()
    data = {"applicant_name": "窓口　太郎", "applicant_name_kana": "まどぐち たろう", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "relation": "resident", "notify_by": "none"}
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    report = {}

    def fire(name, keys, who):
        barrier = threading.Barrier(len(keys))
        results = []

        def one(k):
            try:
                barrier.wait()
                application, created = submit(version, who, data, idempotency_key=k)
                results.append(["created" if created else "replayed", str(application.public_id)])
            except ApplicationError as exc:
                results.append([exc.code, ""])
            except Exception as exc:  # reported, so the test shows it
                results.append([f"error:{type(exc).__name__}:{exc}", ""])
            finally:
                connection.close()

        workers = [threading.Thread(target=one, args=(k,)) for k in keys]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        with tenant(municipality):
            report[name] = {"results": sorted(results), "applications": Application.objects.count()}
        connection.close()

    same = uuid.uuid4().hex
    fire("same_key", [same] * threads, person)
    fire("different_keys", [uuid.uuid4().hex for _ in range(threads)], other)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
