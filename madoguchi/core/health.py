"""Is the database the deployment is configured for the one this process uses, and does it
answer? (/healthz; docs/operations.md)

A persistent SQLite connection keeps the file it opened: moved away, replaced by a restore
or deleted, the configured path no longer names it, yet every query on the open connection
still succeeds. So each SQLite connection remembers the identity (device, inode) of the
file at the configured path when it opened; a request that finds the path naming another
file closes the stale connection first (the next query opens the configured file), and
health answers 503 when the path names no file at all. PostgreSQL gets a round trip.
"""

import os

from django.core.signals import request_started
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created

_IDENTITY = "madoguchi_file_identity"


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _sqlite_path(connection) -> str | None:
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return None
    return str(connection.settings_dict["NAME"])


def remember_file(sender, connection, **kwargs) -> None:
    path = _sqlite_path(connection)
    if path:
        setattr(connection, _IDENTITY, _file_identity(path))


def close_if_file_replaced(**kwargs) -> None:
    """At each request: a SQLite connection whose file is no longer at the configured path,
    while another file is, is closed (the next query opens the configured one)."""
    for connection in connections.all(initialized_only=True):
        path = _sqlite_path(connection)
        if not path or connection.connection is None:
            continue
        now = _file_identity(path)
        if now is not None and now != getattr(connection, _IDENTITY, None):
            connection.close()


def connect_signals() -> None:
    connection_created.connect(remember_file, dispatch_uid="madoguchi.core.health.remember_file")
    request_started.connect(close_if_file_replaced, dispatch_uid="madoguchi.core.health.close_if_file_replaced")


def check_database() -> str | None:
    """None when the configured database answers, else the reason it does not."""
    connection = connections["default"]
    path = _sqlite_path(connection)
    if path:
        close_if_file_replaced()
        if _file_identity(path) is None:
            return "database file missing"
    try:
        with connection.cursor() as cursor:
            # A table every migrated database has: an empty file put in place is not a database.
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"database unavailable ({exc.__class__.__name__})"
    if path and _file_identity(path) != getattr(connection, _IDENTITY, None):
        return "database file replaced"
    return None


_migrated = False


def check_ready() -> dict[str, str]:
    """What keeps this process from taking traffic (/readyz: the balancer's check), by part;
    empty when ready. The database answers; every migration is applied (checked until it is
    once, then remembered: migrations do not un-apply under a running process); Redis answers
    when configured; the server is not stopping (a SIGTERM drains it first: core/serving.py)
    and the node is not being drained (DATA_DIR/drain exists: an operator's
    `touch` before stopping it, so the balancer moves traffic away while requests finish)."""
    from django.conf import settings

    global _migrated
    problems = {}
    if (reason := check_database()) is not None:
        return {"database": reason}
    if not _migrated:
        from django.db.migrations.executor import MigrationExecutor

        try:
            executor = MigrationExecutor(connections["default"])
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            return {"database": f"migrations unreadable ({exc.__class__.__name__})"}
        if pending:
            problems["migrations"] = f"{len(pending)} not applied (madoguchi migrate)"
        else:
            _migrated = True
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        except (redis.RedisError, OSError) as exc:
            problems["redis"] = f"unavailable ({exc.__class__.__name__})"
    if (settings.DATA_DIR / "drain").exists():
        problems["drain"] = "draining (remove DATA_DIR/drain to take traffic again)"
    elif (mark := os.environ.get("MADOGUCHI_DRAIN_MARK")) and os.path.exists(mark):
        problems["drain"] = "draining: the server is stopping (SIGTERM)"
    return problems
