"""Stripe webhook events processed per second over HTTP on PostgreSQL, beside /livez on the
same server and a bare signature check in the same run. Target: ≥ 200 events/s.

What is measured: POST /<code>/payments/webhooks/stripe/ with `checkout.session.completed`
events signed as Stripe signs them (`Stripe-Signature`, HMAC-SHA256), served by
`madoguchi serve` (gunicorn, 2 workers × 4 threads) on PostgreSQL: the signature verified
(stripe.Webhook.construct_event), the payment found, its status **confirmed with the
provider's API** (one GET /v1/checkout/sessions/{id} to the local fake of Stripe, a separate
process: tests/payments/fake_stripe.py), the payment locked and marked succeeded with its
event and audit event, the application moved 支払い待ち → 受付済み with its history, the
transition's listeners (the resident's notice) — one transaction per event. Then the same
events delivered again (Stripe retries): signature, lookup, the confirmed status — one
effect, nothing written. /livez latency is sampled every 20 ms during the first delivery.

Baselines in the same run: GET /livez per second on the same server (same concurrency) and
stripe.Webhook.construct_event per second in this process (the bare signature check).
The payments and their applications (payment_required, pending Stripe sessions the fake
reports paid) are made directly in the database beforehand, untimed.

    .venv/bin/python bench/payments_webhook.py [--events 2000] [--concurrency 8] [--workers 2]
"""

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database, trivial_rate  # noqa: E402
from tests.payments.fake_stripe import API_KEY, WEBHOOK_SECRET, sign  # noqa: E402
from tests.server import start  # noqa: E402

CODE = "139998"
TARGET = 200.0
FAKE = """
import json, sys, time
sys.path.insert(0, %(root)r)
from tests.payments.fake_stripe import FakeStripe
fake = FakeStripe()
now = int(time.time())
for sid in json.load(open(%(sessions)r)):
    fake.sessions[sid] = {"id": sid, "object": "checkout.session", "mode": "payment", "status": "complete",
                          "payment_status": "paid", "currency": "jpy", "amount_total": 600, "created": now,
                          "payment_intent": "pi_" + sid[3:], "livemode": False, "metadata": {}}
print(fake.base_url, flush=True)
sys.stdin.read()  # until the benchmark closes it
fake.stop()
"""


def event(sid: str) -> bytes:
    return json.dumps({"id": "evt_bench_" + uuid.uuid4().hex, "object": "event", "type": "checkout.session.completed",
                       "api_version": "2025-01-01", "created": int(time.time()), "livemode": False,
                       "data": {"object": {"id": sid, "object": "checkout.session", "payment_status": "paid",
                                           "status": "complete", "amount_total": 600, "currency": "jpy"}}}).encode()


def seed(env: dict, sessions: list[str]) -> None:
    """Applications waiting for their fee with a pending Stripe payment each (untimed)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"
    import django

    django.setup()
    from madoguchi.applications.models import Application
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.payments.models import Payment
    from madoguchi.procedures.models import Procedure

    municipality = Municipality.objects.get(code=CODE)
    person = Person.objects.create(verified_name="窓口　太郎", verified_birth_date=dt.date(1980, 4, 1), verified_sex="1",
                                   verified_address="東京都窓口市本町一丁目1番1号", verified_at=dt.datetime.now(dt.UTC))
    with tenant(municipality):
        procedure = Procedure.objects.get(slug="juminhyo-copy")
        version = procedure.current_version()
        now = dt.datetime.now(dt.UTC)
        Application.objects.bulk_create([Application(
            municipality=municipality, person=person, procedure=procedure, version=version, status="payment_required",
            department_code=procedure.department_code, data={}, receipt_number=f"B-{i:07d}", public_id=uuid.uuid4(),
            submitted_at=now, fee_yen=600, document_sha256="0" * 64) for i in range(len(sessions))], batch_size=2000)
        ids = list(Application.objects.filter(receipt_number__startswith="B-").order_by("id").values_list("id", flat=True))
        Payment.objects.bulk_create([Payment(
            municipality=municipality, application_id=a, amount_yen=600, provider="stripe", provider_reference=sid,
            status="pending", idempotency_key=uuid.uuid4().hex) for a, sid in zip(ids, sessions)], batch_size=2000)


def deliver(port: int, sessions: list[str], concurrency: int, latencies: list | None = None) -> tuple[float, dict]:
    """Each session's event POSTed once, `concurrency` connections; returns (events/s, results)."""
    queue, lock, results = list(sessions), threading.Lock(), {}

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                sid = queue.pop()
            body = event(sid)
            conn.request("POST", f"/{CODE}/payments/webhooks/stripe/", body,
                         {"Content-Type": "application/json", "Stripe-Signature": sign(body)})
            response = conn.getresponse()
            answer = response.read()
            key = json.loads(answer).get("result") if response.status == 200 else f"HTTP {response.status}"
            with lock:
                results[key] = results.get(key, 0) + 1

    stop = threading.Event()

    def probe():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            t = time.perf_counter()
            conn.request("GET", "/livez")
            conn.getresponse().read()
            latencies.append(time.perf_counter() - t)
            stop.wait(0.02)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    prober = threading.Thread(target=probe) if latencies is not None else None
    started = time.monotonic()
    if prober:
        prober.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - started
    stop.set()
    if prober:
        prober.join()
    return len(sessions) / took, results


def signature_rate(seconds: float) -> float:
    import stripe

    body = event("cs_test_fake_baseline")
    header, n, stop = sign(body), 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < stop:
        stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET)
        n += 1
    return n / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="madoguchi-webhook-")
    sessions = [f"cs_test_fake_bench{i:07d}" for i in range(args.events)]
    sessions_file = Path(data_dir) / "sessions.json"
    sessions_file.write_text(json.dumps(sessions))
    fake = subprocess.Popen([sys.executable, "-c", FAKE % {"root": str(ROOT), "sessions": str(sessions_file)}],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    fake_url = fake.stdout.readline().strip()
    database_url, drop = bench_database(False, "webhook")
    server = None
    try:
        server = start(data_dir, database_url, workers=args.workers, MADOGUCHI_PAYMENT_PROVIDER="stripe",
                       MADOGUCHI_STRIPE_API_KEY=API_KEY, MADOGUCHI_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                       MADOGUCHI_STRIPE_API_BASE=fake_url)
        port = int(server.base_url.rsplit(":", 1)[1])
        seed(server.env, sessions)
        livez = trivial_rate(port, 3.0, args.concurrency)
        bare = signature_rate(2.0)
        latencies: list[float] = []
        rate, results = deliver(port, sessions, args.concurrency, latencies)
        again, repeated = deliver(port, sessions, args.concurrency)
        from madoguchi.payments.models import Payment

        succeeded = Payment.unscoped.filter(provider="stripe", status="succeeded").count()
        assert results == {"succeeded": args.events}, results
        assert repeated == {"succeeded": args.events} and succeeded == args.events, (repeated, succeeded)
        q = statistics.quantiles(latencies, n=100)
        print(f"webhook events (first delivery: confirm with the API, success, 受付, audit): {rate:.0f}/s over "
              f"{args.events:,} events, concurrency {args.concurrency}, {args.workers} gunicorn workers "
              f"(target ≥ {TARGET:.0f}/s: {'met' if rate >= TARGET else 'NOT met'})")
        print(f"the same events again (one effect, nothing written): {again:.0f}/s")
        print(f"/livez during the first delivery: p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms "
              f"({len(latencies)} samples)")
        print(f"baseline /livez on the same server: {livez:.0f}/s → webhook / livez = {rate / livez:.2f}")
        print(f"baseline bare signature check in-process: {bare:.0f}/s → webhook / signature = {rate / bare:.4f}")
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs: the server, "
              "PostgreSQL, the fake Stripe and this load generator share them with other sessions")
    finally:
        if server:
            server.stop()
        fake.stdin.close()
        fake.wait(timeout=10)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
