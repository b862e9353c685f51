"""Every demo individual number (個人番号) the tests use, and a scanner that looks for them.

Tests make their numbers at run time by the published check-digit rule
(`tests.applications.helpers.synthetic_number`, seeds below `SEEDS`), so none is committed;
`DEMO_INDIVIDUAL_NUMBERS` holds all of them and their wrong-check-digit twins. The virtual
cards the suite issues carry random numbers in their `card.json`: `card_numbers()` adds
those. `tests/last/test_no_individual_numbers.py`, ordered last in the session, scans every
log the suite's servers wrote, the test artifacts and every database it can reach for them.

A number is found as 12 digits, in half- or full-width digits, alone or grouped 4-4-4 by a
space or a hyphen. The masked form (`1234 **** ****`) shows four digits and is not a hit.
"""

import json
import re
import sqlite3
from pathlib import Path

from tests.applications.helpers import synthetic_number, wrong_check_digit

SEEDS = 200  # tests draw their numbers from synthetic_number(0 … SEEDS - 1)
DEMO_INDIVIDUAL_NUMBERS = tuple(sorted({n for seed in range(SEEDS)
                                        for n in (synthetic_number(seed), wrong_check_digit(synthetic_number(seed)))}))

# The one place an individual number may be: the sealed (AES-GCM) column. (table, column)
SEALED = {("applications_individualnumber", "sealed")}

_WIDE = str.maketrans("０１２３４５６７８９－　", "0123456789- ")
_GROUPED = re.compile(r"(?<!\d)(\d{4})[ -](\d{4})[ -](\d{4})(?!\d)")
_RUN = re.compile(r"\d{12,}")


def card_numbers(root: Path) -> set[str]:
    """The individual numbers of the virtual cards issued under `root`."""
    found = set()
    for path in Path(root).rglob("card.json"):
        try:
            number = json.loads(path.read_text(encoding="utf-8"))["text"]["mynumber"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(number, str) and len(number) == 12 and number.isdigit():
            found.add(number)
    return found


def numbers_in(text: str, needles: set[str]) -> set[str]:
    """Which of `needles` appear in `text`."""
    text = text.translate(_WIDE)
    hits = set()
    for run in _RUN.findall(text):
        hits.update(run[i:i + 12] for i in range(len(run) - 11) if run[i:i + 12] in needles)
    hits.update("".join(m) for m in _GROUPED.findall(text) if "".join(m) in needles)
    return hits


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def scan_files(paths, needles: set[str]) -> list[str]:
    hits = []
    for path in paths:
        try:
            text = Path(path).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        for number in sorted(numbers_in(text, needles)):
            hits.append(f"{path}: {number[:4]}…")
    return hits


def scan_rows(where: str, cursor, tables: list[str], needles: set[str], quote) -> list[str]:
    """Every column of every row of `tables` through a DB-API cursor."""
    hits = []
    for table in tables:
        cursor.execute(f"SELECT * FROM {quote(table)}")
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            for column, value in zip(columns, row):
                if (table, column) in SEALED:
                    continue
                if numbers_in(_text(value), needles):
                    hits.append(f"{where} {table}.{column}")
    return sorted(set(hits))


def scan_sqlite(path: Path, needles: set[str]) -> list[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.cursor()
        tables = [r[0] for r in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return scan_rows(str(path), cursor, tables, needles, lambda t: '"' + t.replace('"', '""') + '"')
    except sqlite3.DatabaseError as exc:
        return [f"{path}: unreadable ({exc})"] if "file is not a database" not in str(exc) else []
    finally:
        connection.close()


def scan_postgres(url: str, needles: set[str]) -> list[str]:
    import psycopg

    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [r[0] for r in cursor.fetchall()]
        return scan_rows(url.rsplit("/", 1)[-1], cursor, tables, needles, lambda t: '"' + t.replace('"', '""') + '"')


# Servers' PostgreSQL databases are dropped when their module ends (tests/server.py
# fresh_database_url); the drop scans each one first and keeps the outcome here, in the
# pytest process, for the last test: {database name: [hits]}.
DROPPED_DATABASES: dict[str, list[str]] = {}


def scan_before_drop(url: str) -> None:
    try:
        hits = scan_postgres(url, set(DEMO_INDIVIDUAL_NUMBERS))
    except Exception as exc:  # an unreadable database is itself reported, never skipped
        hits = [f"{url.rsplit('/', 1)[-1]}: could not be scanned ({exc.__class__.__name__}: {exc})"]
    DROPPED_DATABASES[url.rsplit("/", 1)[-1]] = hits


def scan_django(connection, needles: set[str]) -> list[str]:
    """The suite's own database, through Django's connection (SQLite or PostgreSQL)."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        return scan_rows("test database", cursor, tables, needles, connection.ops.quote_name)


def scan_server(server, needles: set[str]) -> list[str]:
    """A running test server (tests/server.py): its log and its database."""
    hits = scan_files([server.log_path], needles)
    url = server.env.get("MADOGUCHI_DATABASE_URL", "")
    if url.startswith("postgres"):
        hits += scan_postgres(url, needles)
    else:
        hits += scan_sqlite(Path(server.env["MADOGUCHI_DATA_DIR"]) / "madoguchi.sqlite3", needles)
    return hits
