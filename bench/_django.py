"""In-process Django for the exports and documents benchmarks: a fresh SQLite database
(or PostgreSQL with --postgres) in a temporary data directory, migrated, with the starter
catalog for 窓口市 and one resident. Not a benchmark itself (make bench skips _*.py)."""

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(postgres: bool = False, name_hint: str = "bench"):
    data_dir = tempfile.mkdtemp(prefix=f"madoguchi-{name_hint}-")
    os.environ["MADOGUCHI_ENV"] = "test"
    os.environ["MADOGUCHI_DATA_DIR"] = data_dir
    os.environ["MADOGUCHI_LOG_LEVEL"] = "WARNING"
    drop = lambda: None  # noqa: E731
    if postgres:
        from bench.support import bench_database

        url, drop = bench_database(False, name_hint)
        os.environ["MADOGUCHI_DATABASE_URL"] = url
    else:
        os.environ["MADOGUCHI_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from madoguchi.identity.models import Person
    from madoguchi.municipalities.models import Municipality
    from madoguchi.procedures.services import install_catalog

    municipality = Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし")
    install_catalog(municipality)
    person = Person.objects.create(verified_name="窓口　太郎", verified_birth_date=dt.date(1980, 4, 1),
                                   verified_sex="1", verified_address="東京都窓口市本町一丁目1番1号",
                                   verified_at=dt.datetime.now(dt.timezone.utc))
    return municipality, person, drop
