"""Export of 100,000 applications to CSV (UTF-8 with BOM, cp932) and JSON Lines through
exports.services.run (the Tasks worker's code), beside a baseline: the same rows written by
the csv module from a plain query. Prints time, rows/s and the ratio.

    .venv/bin/python bench/export.py [--rows N] [--postgres]
"""

import argparse
import csv
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._django import setup  # noqa: E402

DATA = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
        "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "disaster": "令和8年台風第10号",
        "damage_date": "2026-09-01", "property_address": "東京都窓口市髙橋町一丁目1番1号", "property_kind": "dwelling",
        "relation": "owner", "damage": ["flood_below_floor"], "copies": 1}


def seed(municipality, person, rows: int) -> None:
    from madoguchi.applications.models import Application
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.procedures.models import Procedure

    with tenant(municipality):
        procedure = Procedure.objects.get(slug="risai-shoumei")
        version = procedure.current_version()
        now = dt.datetime.now(dt.timezone.utc)
        batch = []
        for i in range(rows):
            batch.append(Application(
                municipality=municipality, person=person, procedure=procedure, version=version, status="submitted",
                department_code=procedure.department_code,
                data={**DATA, "copies": 1 + i % 3}, receipt_number=f"2026-{i + 1:07d}", public_id=uuid.uuid4(),
                submitted_at=now - dt.timedelta(seconds=rows - i), document_sha256="0" * 64))
            if len(batch) == 5000:
                Application.objects.bulk_create(batch)
                batch = []
        Application.objects.bulk_create(batch)


def baseline(municipality, out: Path) -> int:
    """A plain query written by the csv module: the floor any export code sits on."""
    from madoguchi.applications.models import Application
    from madoguchi.municipalities.tenancy import tenant

    n = 0
    with tenant(municipality), open(out, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(["受付番号", "状態", "受付日時", "版", "災害名", "被災日", "被害場所", "種類", "被害", "通数"])
        query = (Application.objects.filter(procedure__slug="risai-shoumei").order_by("submitted_at", "id")
                 .values_list("receipt_number", "status", "submitted_at", "version__number", "data"))
        for receipt, status, at, number, data in query.iterator(chunk_size=2000):
            writer.writerow([receipt, status, at.isoformat(), number, data["disaster"], data["damage_date"],
                             data["property_address"], data["property_kind"], data["damage"], data["copies"]])
            n += 1
    return n


def timed_export(municipality, user, membership, procedure, fmt: str):
    from madoguchi.exports import services
    from madoguchi.municipalities.tenancy import tenant

    with tenant(municipality):
        export = services.request_export(membership, user, procedure, kind="ordinary", fmt=fmt)
        started = time.perf_counter()
        export = services.run(export)
        return time.perf_counter() - started, export


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    municipality, person, drop = setup(args.postgres, "export")
    try:
        from madoguchi.municipalities.tenancy import tenant
        from madoguchi.procedures.models import Procedure
        from madoguchi.staff.models import Department, Membership
        from madoguchi.staff.services import enrol_staff

        started = time.perf_counter()
        seed(municipality, person, args.rows)
        print(f"seeded {args.rows:,} applications in {time.perf_counter() - started:.1f} s")
        department = Department.unscoped.create(municipality=municipality, code="kikikanri", name="危機管理課")
        user, membership, _device, _ = enrol_staff(municipality, "bench", Membership.Role.REVIEWER, department,
                                                   password="a-long-bench-password")
        with tenant(municipality):
            procedure = Procedure.objects.get(slug="risai-shoumei")
        out = Path(tempfile.mkdtemp()) / "baseline.csv"
        started = time.perf_counter()
        n = baseline(municipality, out)
        base = time.perf_counter() - started
        print(f"baseline  csv module from a plain query: {n:,} rows in {base:.2f} s = {n / base:,.0f} rows/s")
        for fmt in ("csv_utf8", "csv_cp932", "jsonl"):
            elapsed, export = timed_export(municipality, user, membership, procedure, fmt)
            assert export.state == "done" and export.done == args.rows, (export.state, export.error)
            print(f"export    {fmt:<10} {export.done:,} rows in {elapsed:.2f} s = {export.done / elapsed:,.0f} rows/s "
                  f"({elapsed / base:.2f}x the baseline's time; {export.size / 1e6:.1f} MB)")
        os.unlink(out)
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
