"""Creates the application's own PostgreSQL role for the tests, as production would have.

Usage: pg_setup.py ADMIN_URL  → prints the URL the application connects with.
The role is not a superuser; it may create databases (the test runner makes its own).
Exit 3 when PostgreSQL cannot be reached, 2 on a bad URL.
"""

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

APP_ROLE = "madoguchi_app"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: pg_setup.py ADMIN_URL", file=sys.stderr)
        return 2
    admin_url = argv[0]
    parts = urlsplit(admin_url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        print(f"pg_setup: not a PostgreSQL URL: {admin_url}", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE").format(
                    sql.Identifier(APP_ROLE)))
            has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_ROLE]).fetchone()
            if not has_db:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(APP_ROLE), sql.Identifier(APP_ROLE)))
    except psycopg.OperationalError as exc:
        print(f"pg_setup: PostgreSQL unreachable at {parts.hostname}:{parts.port or 5432}: "
              f"{str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 3
    netloc = f"{APP_ROLE}@{parts.hostname}:{parts.port or 5432}"
    print(urlunsplit(("postgresql", netloc, f"/{APP_ROLE}", "", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
