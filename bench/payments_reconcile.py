"""Reconciliation (収納消込) of 100,000 settled transactions of one day, beside a plain dict
join of the same data in the same run. Target: under 10 s.

What is measured: payments.reconciliation.reconcile(municipality, provider, day) — reading
the day's payments and refunds of the provider from the database, asking the provider for
its settlements, matching them (kind + reference), writing the run and its 100,000 items,
counting them, and the audit event — on PostgreSQL by default (--sqlite for SQLite). The
provider here is a registered in-memory provider ("bench") yielding Settlement objects: the
provider's own listing (Stripe's balance transactions: 1,000 pages of 100 over HTTPS) is
not in the figure; --stripe-pages N measures the stripe adapter paging through N pages of
the local fake (tests/payments/fake_stripe.py) to say what that part costs per page.
A second run of the same day (nothing new: every item compared, none written) is timed too.

The data: 100,000 applications, each with a payment succeeded that day; 98% settled at the
same amount, 1% at another amount, 1% never settled (missing on theirs), and 1,000
settlements of no payment of ours (missing on our side).

    .venv/bin/python bench/payments_reconcile.py [--count 100000] [--sqlite] [--stripe-pages 20]
"""

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._django import setup  # noqa: E402

TARGET_SECONDS = 10.0


def seed(municipality, person, count: int, day: dt.date):
    from madoguchi.applications.models import Application
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.payments.models import Payment
    from madoguchi.payments.reconciliation import day_window
    from madoguchi.procedures.models import Procedure

    start, _end = day_window(day)
    with tenant(municipality):
        procedure = Procedure.objects.get(slug="juminhyo-copy")
        version = procedure.current_version()
        apps, pays = [], []
        for i in range(count):
            apps.append(Application(
                municipality=municipality, person=person, procedure=procedure, version=version, status="received",
                department_code=procedure.department_code, data={}, receipt_number=f"2026-{i + 1:07d}",
                public_id=uuid.uuid4(), submitted_at=start, fee_yen=600, document_sha256="0" * 64))
            if len(apps) == 5000:
                Application.objects.bulk_create(apps)
                apps = []
        Application.objects.bulk_create(apps)
        ids = list(Application.objects.order_by("id").values_list("id", flat=True))
        for i, application_id in enumerate(ids):
            pays.append(Payment(municipality=municipality, application_id=application_id, amount_yen=600,
                                provider="bench", provider_reference=f"cs_bench_{i:07d}", status="succeeded",
                                idempotency_key=uuid.uuid4().hex, succeeded_at=start + dt.timedelta(seconds=i % 86000)))
            if len(pays) == 5000:
                Payment.objects.bulk_create(pays)
                pays = []
        Payment.objects.bulk_create(pays)


def settlements(count: int):
    from madoguchi.payments.providers.base import Settlement

    out = []
    for i in range(count):
        if i % 100 == 0:
            continue  # never settled: missing on theirs
        amount = 500 if i % 100 == 1 else 600  # another amount
        out.append(Settlement("charge", f"cs_bench_{i:07d}", amount, 22, "jpy", transaction=f"txn_bench_{i:07d}"))
    for i in range(count // 100):
        out.append(Settlement("charge", f"pi_stranger_{i:07d}", 600, 22, "jpy", transaction=f"txn_stranger_{i}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--stripe-pages", type=int, default=20)
    args = parser.parse_args()
    municipality, person, drop = setup(postgres=not args.sqlite, name_hint="reconcile")
    try:
        from django.db import connection

        from madoguchi.payments import reconciliation
        from madoguchi.payments.models import Payment
        from madoguchi.payments.providers.base import PROVIDERS, Provider

        day = reconciliation.today_in_japan() - dt.timedelta(days=1)
        theirs = settlements(args.count)

        @PROVIDERS.register("bench", "the benchmark's in-memory settlements")
        class BenchProvider(Provider):
            def settlements(self, municipality, day, *, start, end):
                return iter(theirs)

        t = time.perf_counter()
        seed(municipality, person, args.count, day)
        print(f"seeded {args.count:,} payments in {time.perf_counter() - t:.1f} s "
              f"({connection.vendor}); {len(theirs):,} settlements")

        # Baseline: the same two sides as plain tuples joined through a dict, the floor of any
        # matching (the database read of our side included, as reconcile does it).
        t = time.perf_counter()
        start, end = reconciliation.day_window(day)
        ours = dict(Payment.unscoped.filter(municipality=municipality, provider="bench", succeeded_at__gte=start,
                                            succeeded_at__lt=end).values_list("provider_reference", "amount_yen")
                    .iterator(chunk_size=2000))
        joined = {s.reference: (ours.get(s.reference), s.amount_yen) for s in theirs}
        for reference, amount in ours.items():
            joined.setdefault(reference, (amount, None))
        baseline = time.perf_counter() - t

        t = time.perf_counter()
        run = reconciliation.reconcile(municipality, "bench", day)
        first = time.perf_counter() - t
        assert run.matched == args.count * 98 // 100, run.matched
        t = time.perf_counter()
        again = reconciliation.reconcile(municipality, "bench", day)
        second = time.perf_counter() - t
        assert again.pk == run.pk and again.runs == 2
        items = len(theirs) + args.count // 100
        print(f"reconcile {items:,} items: {first:.2f} s (target < {TARGET_SECONDS:.0f} s: "
              f"{'met' if first < TARGET_SECONDS else 'NOT met'}); the same day again: {second:.2f} s")
        print(f"  matched {run.matched:,}, amount differs {run.amount_differs:,}, missing theirs "
              f"{run.missing_theirs:,}, missing ours {run.missing_ours:,}")
        print(f"baseline (read our side + plain dict join of the same data): {baseline:.2f} s; "
              f"reconcile / baseline = {first / baseline:.1f}x")

        if args.stripe_pages:
            stripe_pages(municipality, args.stripe_pages)
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
              "(shared with other sessions: figures are indicative)")
    finally:
        from django.db import connections

        connections.close_all()
        drop()
    return 0


def stripe_pages(municipality, pages: int) -> None:
    """The stripe adapter listing `pages` pages of 100 balance transactions from the local fake."""
    from django.conf import settings

    from madoguchi.payments import reconciliation
    from madoguchi.payments.providers import stripe as stripe_provider
    from tests.payments.fake_stripe import API_KEY, FakeStripe

    fake = FakeStripe()
    try:
        now = int(time.time())
        for i in range(pages * 100):  # paid sessions of this municipality, as the fake makes them
            sid, pi = f"cs_test_fake_bench{i:06d}", f"pi_fake_bench{i:06d}"
            fake.sessions[sid] = {"id": sid, "object": "checkout.session", "status": "complete",
                                  "payment_status": "paid", "currency": "jpy", "amount_total": 600,
                                  "payment_intent": pi, "created": now, "livemode": False,
                                  "metadata": {"municipality": municipality.code}}
            fake._charge(pi, 600, "jpy")
        settings.STRIPE_API_KEY, settings.STRIPE_API_BASE = API_KEY, fake.base_url
        start, end = reconciliation.day_window(reconciliation.today_in_japan())
        t = time.perf_counter()
        n = sum(1 for _ in stripe_provider.StripeProvider().settlements(municipality, None, start=start, end=end))
        took = time.perf_counter() - t
        print(f"stripe adapter over HTTP to the local fake: {n:,} balance transactions in {took:.2f} s "
              f"({took / pages * 1000:.0f} ms a page of 100, the sessions' pages included)")
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
