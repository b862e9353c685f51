"""The PostgreSQL GIN index over an application's search grams (migration 0003, and
bench/inbox_generate.py, which drops it for a bulk load and rebuilds it after).

(municipality_id, the grams as a text[]) through btree_gin, a trusted contrib extension the
database owner may create, so the index leads with the municipality like every tenant-owned
index. Without the right to create it, the index holds the grams alone and the planner
combines it with the municipality's b-tree. SQLite has no GIN: the inbox searches
search_key there."""

NAME = "application_search_grams"
GRAMS = "(string_to_array(search_grams, ' '))"


def create(connection) -> str:
    from django.db import DatabaseError, transaction

    if connection.vendor != "postgresql":
        return ""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        except DatabaseError:  # no right to create it: the grams alone
            columns = GRAMS
        else:
            columns = f"municipality_id, {GRAMS}"
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON applications_application USING gin ({columns})")
    return columns


def drop(connection) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {NAME}")
