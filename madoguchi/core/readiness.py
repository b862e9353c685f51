"""May a load balancer send this process requests? (/readyz; docs/operations.md)

/livez says the process answers; /healthz that its database answers. /readyz says the
server should get traffic: it is not draining (a SIGTERM arrived: madoguchi/core/serving.py
marks its run directory, and the server keeps answering for the drain period while the
balancer takes it out), its database answers, every migration this code knows is applied
(a server started before `madoguchi migrate` of an upgrade waits), and the shared cache and
Redis answer when they are configured.

Checks are cheap: the migrations this code ships are read from disk once per process; each
call then costs one query on django_migrations (which also proves the database answers).
"""

import os
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections

from .health import check_database

DRAIN_MARK = "draining"

_known_migrations: set[tuple[str, str]] | None = None
_redis = None  # (url, client): one connection pool per process


def run_dir() -> Path | None:
    value = os.environ.get("MADOGUCHI_RUN_DIR")
    return Path(value) if value else None


def draining() -> bool:
    directory = run_dir()
    return directory is not None and (directory / DRAIN_MARK).exists()


def _migrations_on_disk() -> set[tuple[str, str]]:
    global _known_migrations
    if _known_migrations is None:
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
        _known_migrations = set(loader.disk_migrations)
    return _known_migrations


def check_migrations() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            applied = set(cursor.fetchall())
    except DatabaseError as exc:
        return f"database unavailable ({exc.__class__.__name__})"
    missing = _migrations_on_disk() - applied
    if missing:
        first = sorted(missing)[0]
        return f"{len(missing)} migration(s) not applied (first: {first[0]}.{first[1]}; run madoguchi migrate)"
    return None


def check_cache() -> str | None:
    """The shared cache, when one is configured (MADOGUCHI_CACHE_URL): a write and a read."""
    if not settings.CACHE_URL:
        return None
    from django.core.cache import cache

    try:
        cache.set("madoguchi:readyz", "1", timeout=30)
        if cache.get("madoguchi:readyz") != "1":
            return "cache does not keep what it is given"
    except Exception as exc:  # the cache client's errors are its own (redis.ConnectionError …)
        return f"cache unavailable ({exc.__class__.__name__})"
    return None


def check_redis() -> str | None:
    """Redis of the task queue and the rate buckets, when configured (MADOGUCHI_REDIS_URL)."""
    if not settings.REDIS_URL:
        return None
    import redis

    global _redis
    if _redis is None or _redis[0] != settings.REDIS_URL:
        _redis = (settings.REDIS_URL, redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2,
                                                           socket_timeout=2))
    try:
        _redis[1].ping()
    except redis.RedisError as exc:
        return f"redis unavailable ({exc.__class__.__name__})"
    return None


def check() -> tuple[dict, str | None]:
    """(checks, reason): each check's state, and the first reason not to send traffic."""
    if draining():
        return {"draining": True}, "draining: the server is stopping"
    checks: dict = {"draining": False}
    reason = check_database()
    checks["database"] = "down" if reason else "up"
    if reason:
        return checks, reason
    migrations = check_migrations()
    checks["migrations"] = "pending" if migrations else "applied"
    if migrations:
        return checks, migrations
    for name, probe in (("cache", check_cache), ("redis", check_redis)):
        problem = probe()
        if problem is None and not (settings.CACHE_URL if name == "cache" else settings.REDIS_URL):
            continue
        checks[name] = "down" if problem else "up"
        if problem:
            return checks, problem
    return checks, None
