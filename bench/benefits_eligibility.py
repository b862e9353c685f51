"""Benefit eligibility (issue 19): the dry run of a program — residents on the reference
date, aged 18 and over, without the 生活保護 flag, in households with a child under 18, counted
per household — over N generated resident records on PostgreSQL, beside one hand-written SQL
statement computing the same final count in the same run.

    .venv/bin/python bench/benefits_eligibility.py [--residents 1000000]

Target: eligibility over 1,000,000 residents in under 60 s.
"""

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database  # noqa: E402
from tests.server import start  # noqa: E402

CODE = "139998"
DAY = dt.date(2026, 12, 1)


def generate(n: int, municipality_id: int) -> None:
    """N records in households of 1–4 (a head, a partner, children), written with COPY."""
    from django.db import connection

    rng = random.Random(20261201)
    columns = ("municipality_id", "resident_number", "name", "name_kana", "name_alternative", "name_key", "kana_key",
               "alternative_key", "birth_date", "sex", "address", "household_id", "is_household_head", "relationship",
               "status", "support_measure", "alphabet_name", "common_name", "domicile", "family_register_head",
               "under_correction", "resident_since", "left_on", "flags", "updated_at")
    now = dt.datetime.now(dt.timezone.utc)
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
                f"COPY residents_residentrecord ({', '.join(columns)}) FROM STDIN") as copy:
            i = household = 0
            while i < n:
                household += 1
                size = rng.choice((1, 1, 2, 2, 3, 4))
                flags = " 生活保護 " if rng.random() < 0.02 else ""
                for member in range(min(size, n - i)):
                    adult = member < 2
                    birth = dt.date(rng.randint(1940, 2000) if adult else rng.randint(2005, 2025), rng.randint(1, 12),
                                    rng.randint(1, 28))
                    moved = rng.random() < 0.01
                    copy.write_row((municipality_id, f"9{i:08d}", f"給付　{i}", "", "", f"給付{i}", "", "", birth, "1",
                                    "東京都窓口市本町一丁目", f"G{household}", member == 0, "", "moved_out" if moved else "resident",
                                    False, "", "", "", "", False, None, DAY - dt.timedelta(days=5) if moved else None,
                                    flags, now))
                    i += 1
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE residents_residentrecord")


def bare_count(municipality_id: int) -> int:
    """The baseline: the same final count as one SQL statement."""
    from django.db import connection

    from madoguchi.core.dates import born_bounds

    adult_born_on_or_before = born_bounds(DAY, 18, None)[0]
    child_born_after = born_bounds(DAY, None, 17)[1]
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH residents AS (
              SELECT * FROM residents_residentrecord
              WHERE municipality_id = %(m)s AND (resident_since IS NULL OR resident_since <= %(day)s)
                AND ((status = 'resident' AND left_on IS NULL) OR left_on >= %(day)s))
            SELECT count(DISTINCT household_id) FROM residents
            WHERE birth_date <= %(adult)s AND flags NOT LIKE '%% 生活保護 %%' AND household_id <> ''
              AND household_id IN (SELECT household_id FROM residents WHERE birth_date > %(child)s)""",
                       {"m": municipality_id, "day": DAY, "adult": adult_born_on_or_before, "child": child_born_after})
        return cursor.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.residents < 1:
        parser.error("--residents must be 1 or more")
    url, drop = bench_database(False, "benefits")
    server = start(Path(tempfile.mkdtemp(prefix="madoguchi-benefits-bench-")), url, MADOGUCHI_LOG_LEVEL="WARNING")
    for key in [k for k in os.environ if k.startswith("MADOGUCHI_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in server.env.items() if k.startswith(("MADOGUCHI_", "DJANGO_"))})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    try:
        from madoguchi.benefits import services
        from madoguchi.municipalities.models import Municipality
        from madoguchi.municipalities.tenancy import tenant
        from madoguchi.staff.models import Membership

        municipality = Municipality.objects.get(code=CODE)
        started = time.perf_counter()
        generate(args.residents, municipality.pk)
        print(f"benefit eligibility, {args.residents:,} generated residents, PostgreSQL "
              f"(generated in {time.perf_counter() - started:.1f} s; CPU shared with whatever else runs)")
        user = Membership.unscoped.filter(municipality=municipality).first().user
        with tenant(municipality):
            program = services.create(user, name="子育て世帯臨時給付金", legal_basis="要綱", reference_date=DAY,
                                      unit="household", amount_yen=50000, age_min=18, child_under_age=18,
                                      excluded_flags="生活保護")
            started = time.perf_counter()
            run = services.dry_run(program)
            ours = time.perf_counter() - started
        started = time.perf_counter()
        bare = bare_count(municipality.pk)
        baseline = time.perf_counter() - started
        for label, count in run.steps:
            print(f"  {label}: {count:,}")
        print(f"  dry run (every step counted, then the units): {ours:.1f} s → {run.units:,} households, "
              f"{run.total_yen:,} yen; target < 60 s")
        print(f"  one hand-written SQL statement for the final count: {baseline:.1f} s → {bare:,} "
              f"(ratio {ours / baseline:.1f}×)")
        if bare != run.units:
            print("  MISMATCH: the dry run and the baseline disagree")
            return 1
    finally:
        server.stop()
        from django.db import connections

        connections.close_all()
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
