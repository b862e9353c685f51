"""Run as a separate process against a fresh database: concurrent taps on 「お支払い」 and
concurrent confirmations from threads, each with its own database connection. Prints a
JSON report (test_concurrency_pg.py)."""

import datetime as dt
import json
import os
import sys
import threading
import uuid

from tests.applications.concurrent_submit import migrate_with_taro


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import connection

    from madoguchi.applications.models import Application
    from madoguchi.applications.services import submit
    from madoguchi.core.dates import today_in_japan
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.payments import services
    from madoguchi.payments.models import DemoCheckout, Payment, PaymentEvent
    from madoguchi.procedures.models import Procedure

    municipality, person = migrate_with_taro()
    with tenant(municipality):
        version = Procedure.objects.get(slug="sodai-gomi").current_version()
    data = {"applicant_name": "窓口　太郎", "collection_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000",
            "items": "タンス1", "small_items": 1, "large_items": 1,
            "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat()}
    application, _ = submit(version, person, data, idempotency_key=uuid.uuid4().hex)
    connection.close()
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    report = {}

    def fire(name, call):
        barrier = threading.Barrier(threads)
        results = []

        def one():
            try:
                barrier.wait()
                results.append(call())
            except Exception as exc:  # reported, so the test shows it
                results.append(f"error:{type(exc).__name__}:{exc}")
            finally:
                connection.close()

        workers = [threading.Thread(target=one) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        report[name] = sorted(results)

    fire("start", lambda: str(services.start(application, person, return_url=lambda p: "/").public_id))
    with tenant(municipality):
        payment = Payment.objects.get(application=application)
        DemoCheckout.objects.filter(reference=payment.provider_reference).update(state="paid")
    connection.close()
    fire("confirm", lambda: services.confirm(payment).status)
    with tenant(municipality):
        report["payments"] = Payment.objects.count()
        report["succeeded_events"] = PaymentEvent.objects.filter(to_status="succeeded").count()
        report["application"] = Application.objects.get(pk=application.pk).status
        report["received_history"] = Application.objects.get(pk=application.pk).events.filter(
            to_status="received").count()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
