"""Notices to a million phones (issue 16): one 市からのお知らせ fanned out on Web Push and e-mail
to N generated residents (each with a push subscription and a verified address) on
PostgreSQL, through the delivery engine.

Figures, each beside its baseline measured in the same run:
- the time until every delivery is queued (rows written with bulk_create in batches, one
  task per batch on the database Tasks backend); target: 1,000,000 residents in under 60 s;
- deliveries per second with 2 and 4 `madoguchi worker` processes to a local push receiver
  (HTTP, answers 201 like a push service; the tests' push service, which also decrypts, is
  tests/notices/pushservice.py) and an aiosmtpd sink, beside the bare library rate from one
  process in the same run (`pywebpush.webpush` to the same receiver with the same key,
  `smtplib` to the same sink); target: ≥ 0.5× the bare rate per worker;
- the resident's notices page (/139998/notices/, signed in) p50/p95 while the 4 workers
  send, beside /livez; target: p95 under 150 ms.

    .venv/bin/python bench/notices_fanout.py [--residents 1000000] [--backend database|rq] [--queue-only]

The CPU is shared with whatever else runs on the machine: the ratios matter more than the
absolute figures.
"""

import argparse
import asyncio
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database  # noqa: E402
from tests.server import start  # noqa: E402

CODE = "139998"
REDIS_URL = "redis://127.0.0.1:6379/1"


class Receiver:
    """A push receiver: answers 201 to every POST and counts (no decryption: a vendor's
    push service stores and forwards)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def generate(n: int, push_base: str) -> list[int]:
    """N residents, each with a verified address and one device (one device key pair shared:
    the encryption work per push is the same), written with bulk_create."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.db import transaction
    from django.utils import timezone

    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.notices import vapid
    from madoguchi.notices.models import EmailAddress, PushSubscription
    from tests.notices.pushservice import b64

    device = ec.generate_private_key(ec.SECP256R1())
    p256dh = b64(device.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint))
    auth = b64(os.urandom(16))
    municipality = Municipality.objects.get(code=CODE)
    key = vapid.public_key(CODE)
    now = timezone.now()
    ids = []
    with tenant(municipality):
        for start_at in range(0, n, 10000):
            size = min(10000, n - start_at)
            with transaction.atomic():
                people = Person.objects.bulk_create([Person(
                    verified_name=f"通知　{start_at + i}", verified_birth_date=dt.date(1980, 1, 1), verified_sex="1",
                    verified_address="東京都窓口市本町一丁目1番1号", verified_at=now) for i in range(size)])
                EmailAddress.objects.bulk_create([EmailAddress(
                    municipality=municipality, person=p, address=f"r{p.pk}@example.jp", verified_at=now)
                    for p in people])
                PushSubscription.objects.bulk_create([PushSubscription(
                    municipality=municipality, person=p, endpoint=f"{push_base}/push/{p.pk}", p256dh=p256dh, auth=auth,
                    vapid_key=key) for p in people])
            ids += [p.pk for p in people]
    return ids


def fan_out(ids: list[int]) -> tuple[int, float]:
    from django.db import transaction

    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.notices import services
    from madoguchi.notices.models import Category

    started = time.perf_counter()
    with tenant(Municipality.objects.get(code=CODE)), transaction.atomic():
        queued = sum(services.fan_out(ids, channel_name=channel, category=Category.ANNOUNCEMENTS,
                                      kind="broadcast.bench", link=f"/{CODE}/notices/") for channel in ("push", "email"))
    return queued, time.perf_counter() - started  # the tasks are enqueued on commit: included


def unsent() -> int:
    from madoguchi.notices.models import Delivery

    return Delivery.unscoped.exclude(status__in=["sent", "failed"]).count()


def bare_push(base: str, n: int) -> float:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from py_vapid import Vapid02
    from pywebpush import webpush
    import requests

    from madoguchi.notices import vapid
    from tests.notices.pushservice import b64

    device = ec.generate_private_key(ec.SECP256R1())
    info = {"endpoint": f"{base}/push/bare", "keys": {
        "p256dh": b64(device.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint)),
        "auth": b64(os.urandom(16))}}
    signer = Vapid02(private_key=vapid.private_key(CODE))
    session = requests.Session()
    payload = json.dumps({"title": "お知らせ", "category": "市からのお知らせ", "url": "https://x/139998/notices/"},
                         ensure_ascii=False)
    started = time.perf_counter()
    for _ in range(n):
        webpush(info, data=payload, vapid_private_key=signer, vapid_claims={"sub": "mailto:bench@example.jp"},
                content_encoding="aes128gcm", ttl=86400, timeout=10, requests_session=session)
    return n / (time.perf_counter() - started)


def bare_smtp(port: int, n: int) -> float:
    import smtplib
    from email.message import EmailMessage

    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            mail = EmailMessage()
            mail["Subject"], mail["From"], mail["To"] = "[市からのお知らせ] お知らせ", "a@example.jp", f"b{i}@example.jp"
            mail.set_content("お知らせがあります。\nhttps://x/139998/notices/")
            mail.add_alternative("<p>お知らせがあります。</p>", subtype="html")
            smtp.send_message(mail)
    return n / (time.perf_counter() - started)


def latency(port: int, path: str, cookie: str, stop: threading.Event, out: list):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "ja"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"bench: {path} answered {response.status}")
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)


def resident_cookie(person_id: int) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    from madoguchi.identity import sessions
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality

    municipality = Municipality.objects.get(code=CODE)
    person = Person.unscoped.get(pk=person_id) if hasattr(Person, "unscoped") else Person.objects.get(pk=person_id)
    store = SessionStore()
    now = int(time.time())
    store[sessions.KEY] = {"person": str(person.public_id), "municipality": municipality.pk, "assurance": "login",
                           "since": now, "seen": now}
    store.save()
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def pct(values, p):
    return statistics.quantiles(values, n=100)[p - 1] if len(values) >= 2 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["database", "rq"], default="database")
    parser.add_argument("--bare", type=int, default=1000, help="messages of each bare library baseline")
    parser.add_argument("--queue-only", action="store_true",
                        help="measure the queueing only (a million deliveries take hours to send on 2 cores)")
    args = parser.parse_args()
    if args.residents < 1:
        parser.error("--residents must be 1 or more")

    from aiosmtpd.controller import Controller

    receiver, sink = Receiver(), Sink()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = s.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    data_dir = tempfile.mkdtemp(prefix="madoguchi-notices-bench-")
    url, drop = bench_database(False, "notices")
    extra = {"MADOGUCHI_EMAIL_HOST": "127.0.0.1", "MADOGUCHI_EMAIL_PORT": str(smtp_port),
             "MADOGUCHI_SITE_URL": "https://madoguchi.example", "MADOGUCHI_LOG_LEVEL": "WARNING"}
    if args.backend == "rq":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        extra |= {"MADOGUCHI_TASKS_BACKEND": "rq", "MADOGUCHI_REDIS_URL": REDIS_URL}
    server = start(Path(data_dir), url, workers=2, **extra)
    os.environ.update({k: v for k, v in server.env.items() if k.startswith(("MADOGUCHI_", "DJANGO_"))})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    try:
        print(f"notices fan-out, {args.residents:,} residents, PostgreSQL, Tasks backend {args.backend} "
              f"(CPU shared with other sessions)")
        started = time.perf_counter()
        ids = generate(args.residents, receiver.base)
        print(f"  generated residents, addresses, devices: {time.perf_counter() - started:.1f} s")
        bare_p = bare_push(receiver.base, args.bare)
        bare_m = bare_smtp(smtp_port, args.bare)
        print(f"  bare pywebpush, one process: {bare_p:,.0f}/s; bare smtplib, one process: {bare_m:,.0f}/s")
        cookie = resident_cookie(ids[0])
        port = int(server.base_url.rsplit(":", 1)[1])
        for workers in (2, 4):
            receiver.count, sink.count = 0, 0
            queued, seconds = fan_out(ids)
            rate_queue = queued / seconds
            print(f"  {workers} workers: {queued:,} deliveries queued in {seconds:.1f} s ({rate_queue:,.0f}/s; "
                  f"1M residents = 2M deliveries ≈ {2_000_000 / rate_queue:.0f} s at this rate)")
            if args.queue_only:
                break
            procs = [subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=server.env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
            stop, page, livez = threading.Event(), [], []
            threads = [threading.Thread(target=latency, args=(port, f"/{CODE}/notices/", cookie, stop, page)),
                       threading.Thread(target=latency, args=(port, "/livez", "", stop, livez))]
            for t in threads:
                t.start()
            began = time.perf_counter()
            while (left := unsent()) and time.perf_counter() - began < 3600:
                time.sleep(1)
            elapsed = time.perf_counter() - began
            stop.set()
            for t in threads:
                t.join()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
            push_rate, mail_rate = receiver.count / elapsed, sink.count / elapsed
            # Each worker sends both channels: its share of the bare rate is the time the bare
            # library would need for what it sent, over the time it had.
            per_worker = (push_rate / bare_p + mail_rate / bare_m) / workers
            print(f"    sent in {elapsed:.1f} s: push {receiver.count:,} ({push_rate:,.0f}/s), mail {sink.count:,} "
                  f"({mail_rate:,.0f}/s); total {(receiver.count + sink.count) / elapsed:,.0f}/s = "
                  f"{per_worker:.2f}× the bare library rate per worker" + (f"; {left:,} left" if left else ""))
            print(f"    resident notices page during the fan-out: p50 {statistics.median(page):.0f} ms, "
                  f"p95 {pct(page, 95):.0f} ms ({len(page)} requests); /livez p95 {pct(livez, 95):.0f} ms")
    finally:
        server.stop()
        smtp.stop()
        from django.db import connections

        connections.close_all()
        drop()
        if args.backend == "rq":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
