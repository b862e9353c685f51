"""Certificates on demand (issue 20): 住民票の写し issued by concurrent residents — the record
read through each resident's link, rendered, signed PAdES, stored, logged — beside rendering
alone in the same run; and checks per second on the public verification page beside /livez
on the same server. With --check, every PDF's text is read back (pdftotext) and must name
its requester and nobody else: the test suite runs it so (tests/certificates/test_concurrency.py).

    .venv/bin/python bench/certificates_issue.py [--residents 8] [--per-resident 5] [--threads 8] [--sqlite] [--check]

Targets: ≥ 10 certificates/s; the verification page ≥ 0.3× /livez.
"""

import argparse
import datetime as dt
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database, trivial_rate  # noqa: E402
from tests.server import start  # noqa: E402

CODE = "139998"
COMMON = "一二三四五六七八九十山川田中本木林森石井"


def generate(n: int) -> list:
    from madoguchi.identity.models import Person, ResidentLink
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.residents.models import ResidentRecord

    municipality = Municipality.objects.get(code=CODE)
    people = []
    with tenant(municipality):
        for i in range(n):
            # Distinct names of common kanji (every font has them): a mix-up shows in the text.
            name = f"証明　{COMMON[i % len(COMMON)]}{COMMON[(i // len(COMMON)) % len(COMMON)]}{COMMON[(i // 400) % 20]}"
            person = Person.objects.create(verified_name=name, verified_birth_date=dt.date(1960 + i % 50, 1, 2),
                                           verified_sex="1", verified_address="東京都窓口市本町一丁目",
                                           verified_at=dt.datetime.now(dt.timezone.utc))
            record = ResidentRecord.objects.create(
                municipality=municipality, resident_number=f"8{i:07d}", name=name, birth_date=person.verified_birth_date,
                sex="1", address=f"東京都窓口市本町一丁目{i + 1}番", household_id=f"HB{i}", is_household_head=True)
            ResidentLink.objects.create(municipality=municipality, person=person, record=record, method="automatic")
            people.append(person)
    return people


def render_alone(people, count: int) -> float:
    """The baseline: the same PDFs rendered (no record lock, signature, storage or log)."""
    from madoguchi.certificates import services
    from madoguchi.certificates.models import CertificateType
    from madoguchi.identity.services import resident_link_of
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.residents import reading

    municipality = Municipality.objects.get(code=CODE)
    with tenant(municipality):
        kind = CertificateType.objects.get(kind="resident_copy")
        facts = [reading.facts_of(resident_link_of(p).record_id) for p in people]
        started = time.perf_counter()
        for i in range(count):
            services.render(municipality, kind, facts[i % len(facts)], scope="household", options={}, purpose="",
                            issue_number=services.new_issue_number(), issued_at=dt.datetime.now(dt.timezone.utc))
        return count / (time.perf_counter() - started)


def issue_concurrently(people, per_resident: int, threads: int) -> tuple[float, list[str]]:
    from django.db import connection

    from madoguchi.certificates import services
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant

    municipality = Municipality.objects.get(code=CODE)
    errors: list[str] = []
    work = [p for p in people for _ in range(per_resident)]
    lock = threading.Lock()

    def worker():
        try:
            with tenant(municipality):
                while True:
                    with lock:
                        if not work:
                            return
                        person = work.pop()
                    services.issue(person, kind="resident_copy", scope="household", options={"household_head": True})
        except Exception as exc:  # noqa: BLE001  (counted as a failure of the run)
            errors.append(repr(exc))
        finally:
            connection.close()

    total = len(work)
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return total / (time.perf_counter() - started), errors


def resident_cookie(person) -> str:
    """A signed-in resident's session (as the card sign-in leaves it), written directly."""
    from django.contrib.sessions.backends.db import SessionStore

    from madoguchi.identity import sessions
    from madoguchi.municipalities.models import Municipality

    store = SessionStore()
    now = int(time.time())
    store[sessions.KEY] = {"person": str(person.public_id), "municipality": Municipality.objects.get(code=CODE).pk,
                           "assurance": "login", "since": now, "seen": now}
    store.save()
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def issue_over_http(port: int, people, per_resident: int, concurrency: int) -> tuple[float, list[str]]:
    """The same issuance as a resident's browser does it, through the server's processes:
    GET the form (CSRF token), POST it, follow nothing (a 302 to the issued page is success)."""
    import re
    from urllib.parse import urlencode

    from django.conf import settings

    csrf_name = settings.CSRF_COOKIE_NAME
    cookies = [resident_cookie(p) for p in people]
    work = [c for c in cookies for _ in range(per_resident)]
    lock, errors = threading.Lock(), []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not work:
                    return
                cookie = work.pop()
            conn.request("GET", f"/{CODE}/certificates/", headers={"Cookie": cookie})
            response = conn.getresponse()
            page = response.read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            csrf = re.search(rf"{csrf_name}=([^;]+)", response.getheader("Set-Cookie") or "")
            if response.status != 200 or not token or not csrf:
                errors.append(f"GET {response.status}")
                continue
            body = urlencode({"csrfmiddlewaretoken": token.group(1), "kind": "resident_copy", "scope": "household",
                              "household_head": "on"})
            conn.request("POST", f"/{CODE}/certificates/", body=body, headers={
                "Cookie": f"{cookie}; {csrf_name}={csrf.group(1)}", "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{port}/{CODE}/certificates/", "Origin": f"http://127.0.0.1:{port}"})
            response = conn.getresponse()
            response.read()
            if response.status != 302:
                errors.append(f"POST {response.status}")

    total = len(work)
    pool = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return total / (time.perf_counter() - started), errors


def check_texts(people) -> list[str]:
    """Every certificate's text names its requester and no other generated resident."""
    from madoguchi.certificates import services
    from madoguchi.certificates.models import Certificate
    from madoguchi.identity.services import resident_link_of
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant

    flat = {p.pk: "".join(unicodedata.normalize("NFKC", p.verified_name).split()) for p in people}
    problems = []
    with tenant(Municipality.objects.get(code=CODE)):
        for c in Certificate.objects.filter(requester_id__in=list(flat)):
            with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
                f.write(services.read(c))
                f.flush()
                # NFKC: the fonts' ToUnicode maps some ideographs to Kangxi radicals (一 → ⼀).
                text = unicodedata.normalize("NFKC", subprocess.run(
                    ["pdftotext", f.name, "-"], capture_output=True, text=True, check=True).stdout)
                text = "".join(text.split())
            others = [n for pk, n in flat.items() if pk != c.requester_id and n in text]
            if flat[c.requester_id] not in text or others:
                problems.append(f"{c.issue_number}: requester {flat[c.requester_id]}, also {others}")
            person = next(p for p in people if p.pk == c.requester_id)
            if c.subject_record_id != resident_link_of(person).record_id:
                problems.append(f"{c.issue_number}: logged subject is not the requester's record")
    return problems


def verify_rate(port: int, numbers: list[str], seconds: float, concurrency: int) -> float:
    count, stop, lock = [0], time.monotonic() + seconds, threading.Lock()

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        while time.monotonic() < stop:
            conn.request("GET", f"/{CODE}/verify/{numbers[(k + n) % len(numbers)]}/")
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 429):
                raise SystemExit(f"bench: the verification page answered {response.status}")
            n += response.status == 200
        with lock:
            count[0] += n

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=8)
    parser.add_argument("--per-resident", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sqlite", action="store_true", help="the embedded database instead of PostgreSQL")
    parser.add_argument("--check", action="store_true", help="read every PDF back and fail on another person's data")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each HTTP measurement")
    args = parser.parse_args()
    if args.residents < 1 or args.per_resident < 1 or args.threads < 1:
        parser.error("--residents, --per-resident and --threads must be 1 or more")
    data_dir = tempfile.mkdtemp(prefix="madoguchi-certificates-bench-")
    url, drop = bench_database(args.sqlite, "certificates") if not os.environ.get("MADOGUCHI_BENCH_DATABASE_URL") \
        else (os.environ["MADOGUCHI_BENCH_DATABASE_URL"], lambda: None)
    # The verification page's per-address limit would stop the measurement: lifted for the
    # benchmark's server only (the tests check the limit).
    server = start(Path(data_dir), url, workers=2, MADOGUCHI_LOG_LEVEL="WARNING",
                   MADOGUCHI_CERTIFICATES_VERIFY_LIMIT="1000000")
    # This process reads the server's database: its settings exactly (on SQLite the server has
    # no database URL, and one inherited from a test run would name another file).
    for key in [k for k in os.environ if k.startswith("MADOGUCHI_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in server.env.items() if k.startswith(("MADOGUCHI_", "DJANGO_"))})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    status = 0
    try:
        from django.db import connection

        print(f"certificates, {args.residents} residents × {args.per_resident}, {args.threads} threads, "
              f"{connection.vendor} (CPU shared with whatever else runs)")
        people = generate(args.residents)
        rendered = render_alone(people, min(10, args.residents * args.per_resident))
        rate, errors = issue_concurrently(people, args.per_resident, args.threads)
        print(f"  issued in this process, {args.threads} threads (record read, render, sign, store, log): "
              f"{rate:.1f}/s; rendering alone, one thread {rendered:.1f}/s (ratio {rate / rendered:.2f})")
        port = int(server.base_url.rsplit(":", 1)[1])
        http_rate, http_errors = issue_over_http(port, people, args.per_resident, args.threads)
        print(f"  issued through the server ({args.threads} residents at once, 2 worker processes): "
              f"{http_rate:.1f}/s = {http_rate / rendered:.2f}× rendering alone; target ≥ 10/s")
        errors += http_errors
        if errors:
            print(f"  FAILED: {len(errors)} issuances raised: {errors[:3]}")
            status = 1
        if args.check:
            problems = check_texts(people)
            print(f"  checked every PDF's text: {'no other person' if not problems else problems[:5]}")
            status = status or (1 if problems else 0)
        from madoguchi.certificates.models import Certificate

        numbers = list(Certificate.unscoped.values_list("issue_number", flat=True)[:50])
        checks = verify_rate(port, numbers, args.seconds, 4)
        livez = trivial_rate(port, args.seconds, 4)
        print(f"  verification page: {checks:.0f}/s beside /livez {livez:.0f}/s (ratio {checks / livez:.2f}); "
              f"target ≥ 0.3")
    finally:
        server.stop()
        from django.db import connections

        connections.close_all()
        drop()
    return status


if __name__ == "__main__":
    sys.exit(main())
