"""Creates many applications on PostgreSQL for the back-office benchmark (bench/inbox.py):
across the municipality's procedures (so across departments), every status, two years of
submission times, and realistic Japanese names with their kana (common surnames and given
names, weighted as they occur). Rows are written with COPY in batches, with the search
columns computed by the same code as a real submission (Application.refresh_search); the
GIN index is dropped during the load and rebuilt after it, then the table is analysed.

    MADOGUCHI_DATABASE_URL=postgresql://… .venv/bin/python bench/inbox_generate.py \
        [--count 1000000] [--municipality 139998] [--persons 50000] [--seed 8]

The database must be migrated and hold the demo (`madoguchi migrate`, `madoguchi demo`).
Exit 2 with one line on bad arguments.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (kanji, kana, weight): the most common surnames and given names, roughly by frequency.
SURNAMES = [
    ("佐藤", "さとう", 18), ("鈴木", "すずき", 17), ("高橋", "たかはし", 14), ("田中", "たなか", 13),
    ("伊藤", "いとう", 11), ("渡辺", "わたなべ", 11), ("山本", "やまもと", 11), ("中村", "なかむら", 10),
    ("小林", "こばやし", 10), ("加藤", "かとう", 9), ("吉田", "よしだ", 8), ("山田", "やまだ", 8),
    ("佐々木", "ささき", 7), ("山口", "やまぐち", 6), ("松本", "まつもと", 6), ("井上", "いのうえ", 6),
    ("木村", "きむら", 6), ("林", "はやし", 5), ("斎藤", "さいとう", 5), ("清水", "しみず", 5),
    ("山崎", "やまざき", 4), ("森", "もり", 4), ("池田", "いけだ", 4), ("橋本", "はしもと", 4),
    ("阿部", "あべ", 4), ("石川", "いしかわ", 4), ("山下", "やました", 3), ("中島", "なかじま", 3),
    ("石井", "いしい", 3), ("小川", "おがわ", 3), ("前田", "まえだ", 3), ("岡田", "おかだ", 3),
    ("長谷川", "はせがわ", 3), ("藤田", "ふじた", 3), ("後藤", "ごとう", 3), ("近藤", "こんどう", 3),
    ("村上", "むらかみ", 3), ("遠藤", "えんどう", 2), ("青木", "あおき", 2), ("坂本", "さかもと", 2),
    ("髙橋", "たかはし", 1), ("渡邉", "わたなべ", 1), ("齋藤", "さいとう", 1), ("山﨑", "やまざき", 1),
    ("窓口", "まどぐち", 1), ("見本", "みほん", 1), ("東海林", "しょうじ", 1), ("五十嵐", "いがらし", 1),
]
GIVEN = [
    ("太郎", "たろう", 3), ("花子", "はなこ", 2), ("翔太", "しょうた", 4), ("蓮", "れん", 4), ("陽翔", "はると", 4),
    ("大翔", "ひろと", 3), ("湊", "みなと", 3), ("健太", "けんた", 3), ("一郎", "いちろう", 2), ("誠", "まこと", 3),
    ("浩", "ひろし", 3), ("隆", "たかし", 3), ("修", "おさむ", 2), ("勇気", "ゆうき", 2), ("拓也", "たくや", 3),
    ("陽菜", "ひな", 4), ("結衣", "ゆい", 4), ("さくら", "さくら", 3), ("美咲", "みさき", 3), ("葵", "あおい", 4),
    ("凛", "りん", 3), ("芽依", "めい", 3), ("恵子", "けいこ", 3), ("裕子", "ゆうこ", 3), ("直美", "なおみ", 2),
    ("由美子", "ゆみこ", 2), ("智子", "ともこ", 3), ("美穂", "みほ", 2), ("愛", "あい", 2), ("真由美", "まゆみ", 2),
]
STATUSES = [("submitted", 5), ("payment_required", 2), ("received", 8), ("returned", 3), ("resubmitted", 2),
            ("approved", 5), ("rejected", 3), ("completed", 67), ("withdrawn", 5)]
# How often each procedure is applied for (住民票 and 戸籍 dominate a city's counter).
PROCEDURE_WEIGHTS = {"juminhyo-copy": 30, "koseki-certificate": 12, "tenshutsu": 8, "inkan-touroku": 5,
                     "jidou-teate": 6, "hoikusho-nyusho": 4, "sodai-gomi": 20, "toshokan-riyou": 8,
                     "risai-shoumei": 2, "zaigai-senkyo": 1}
COLUMNS = ("municipality_id", "public_id", "person_id", "procedure_id", "version_id", "status", "data",
           "document_sha256", "document_key_id", "verification", "receipt_number", "idempotency_key",
           "request_digest", "dedup_key", "household_id", "fee_yen", "created_at", "submitted_at", "updated_at",
           "department_code", "assignee_id", "applicant_name", "applicant_kana", "search_key", "search_grams")


def fail(message: str) -> "None":
    print(f"inbox_generate: {message}", file=sys.stderr)
    raise SystemExit(2)


def weighted(items):
    values = [i[:-1] if len(i) > 2 else i[0] for i in items]
    weights = [i[-1] for i in items]
    return values, weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--municipality", default="139998")
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 20_000_000 or not 1 <= args.persons <= 5_000_000 or args.batch < 100:
        fail("--count 1…20,000,000, --persons 1…5,000,000, --batch ≥ 100")
    if not os.environ.get("MADOGUCHI_DATABASE_URL", "").startswith("postgres"):
        fail("set MADOGUCHI_DATABASE_URL to the PostgreSQL database of the benchmark server")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from tqdm import tqdm

    from madoguchi.applications.models import Application
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.procedures.models import ProcedureVersion
    from madoguchi.staff.models import Membership

    municipality = Municipality.objects.filter(code=args.municipality).first()
    if municipality is None:
        fail(f"no municipality {args.municipality}: run `madoguchi demo` first")
    versions = {v.procedure.slug: v for v in ProcedureVersion.unscoped.filter(
        municipality=municipality, status="published").select_related("procedure")}
    if not versions:
        fail(f"municipality {args.municipality} has no published procedures")
    reviewers = {}
    for m in Membership.unscoped.filter(municipality=municipality, role="reviewer").select_related("department"):
        if m.department is not None:
            reviewers.setdefault(m.department.code, []).append(m.user_id)

    rng = random.Random(args.seed)
    surnames, surname_w = weighted(SURNAMES)
    givens, given_w = weighted(GIVEN)
    statuses, status_w = weighted(STATUSES)
    slugs = [s for s in PROCEDURE_WEIGHTS if s in versions] or list(versions)
    slug_w = [PROCEDURE_WEIGHTS.get(s, 1) for s in slugs]
    now = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    raw = connection.cursor().cursor  # psycopg's own cursor: COPY

    # Persons (deployment-wide): one per simulated applicant, names drawn as above.
    people = []
    with transaction.atomic(), tqdm(total=args.persons, desc="persons", unit="row") as bar:
        with raw.copy("COPY identity_person (public_id, verified_name, verified_birth_date, verified_sex, "
                      "verified_address, verified_at, created_at) FROM STDIN") as copy:
            for _ in range(args.persons):
                (family, family_kana), (given, given_kana) = (rng.choices(surnames, surname_w)[0],
                                                              rng.choices(givens, given_w)[0])
                name, kana = f"{family}　{given}", f"{family_kana} {given_kana}"
                birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 70))
                copy.write_row((uuid.uuid4(), name, birth, rng.choice("12"), "東京都窓口市本町一丁目1番1号", now, now))
                people.append((name, kana))
                bar.update()
        first = Person.objects.order_by("-id").values_list("id", flat=True)[args.persons - 1]
    person_ids = list(range(first, first + args.persons))

    from madoguchi.applications.migrations import _search_index

    _search_index.drop(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM applications_application")
        base = cursor.fetchone()[0]
    sql = f"COPY applications_application ({', '.join(COLUMNS)}) FROM STDIN"
    span = dt.timedelta(days=730).total_seconds()
    done = 0
    with tqdm(total=args.count, desc="applications", unit="row") as bar:
        while done < args.count:
            n = min(args.batch, args.count - done)
            with transaction.atomic(), raw.copy(sql) as copy:
                for i in range(done, done + n):
                    slug = rng.choices(slugs, slug_w)[0]
                    version = versions[slug]
                    department = version.procedure.department_code
                    status = rng.choices(statuses, status_w)[0]
                    k = rng.randrange(args.persons)
                    name, kana = people[k]
                    submitted = now - dt.timedelta(seconds=rng.random() * span)
                    assignee = None
                    if status not in ("submitted", "payment_required") and reviewers.get(department) \
                            and rng.random() < 0.6:
                        assignee = rng.choice(reviewers[department])
                    receipt = f"{submitted.year}-B{base + i + 1:07d}"  # "B": never a real counter's number
                    a = Application(applicant_name=name, applicant_kana=kana, receipt_number=receipt)
                    a.refresh_search()
                    copy.write_row((municipality.pk, uuid.uuid4(), person_ids[k], version.procedure_id, version.pk,
                                    status, "{}", "", "", "{}", receipt, "", "", "", "", 0, submitted, submitted,
                                    submitted, department, assignee, name, kana, a.search_key, a.search_grams))
            done += n
            bar.update(n)
    print(f"rebuilding the search index and analysing ({time.monotonic() - started:.0f} s so far)…", flush=True)
    from madoguchi.applications.migrations import _search_index

    _search_index.create(connection)
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute("VACUUM ANALYZE applications_application")
        cursor.execute("ANALYZE identity_person")
    elapsed = time.monotonic() - started
    print(json.dumps({"applications": args.count, "persons": args.persons, "seconds": round(elapsed, 1),
                      "rows_per_second": round(args.count / elapsed)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
