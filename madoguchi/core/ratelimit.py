"""Fixed-window rate limits shared by every server process and machine.

Where the counters live: in the shared cache when one is configured (MADOGUCHI_CACHE_URL,
Redis: an atomic INCR per hit, no database statement), else in the database (the embedded
install has no shared cache: one upsert per request, however many limits it checks).
"""

import datetime as dt
import hashlib
import random
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import RateCounter


def client_address(request) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(scope: str, subject: str, window_seconds: int) -> str:
    window = int(time.time() // window_seconds)
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]  # addresses are not stored plain
    return f"{scope}:{digest}:{window}"


def allow(scope: str, subject: str, limit: int, window_seconds: int) -> bool:
    """Counts one hit of `subject` in `scope`; False once `limit` hits fall in this window."""
    return allow_all([(scope, subject, limit, window_seconds)])


def allow_all(limits: list[tuple[str, str, int, int]]) -> bool:
    """Counts one hit in each (scope, subject, limit, window seconds); False when any is over
    its limit. Every counter is counted, over or not (as separate allow() calls would)."""
    if not limits:
        return True
    keys = [_key(scope, subject, window) for scope, subject, _, window in limits]
    if len(set(keys)) != len(keys):  # the same counter twice: count it twice, one at a time
        return all([allow_all([one]) for one in limits])
    if settings.CACHE_URL:
        counts = _count_in_cache(keys, [window for *_, window in limits])
    else:
        counts = _count_in_database(keys, [window for *_, window in limits])
    return all(counts[key] <= limit for key, (_, _, limit, _) in zip(keys, limits))


def _count_in_cache(keys: list[str], windows: list[int]) -> dict[str, int]:
    from django.core.cache import cache

    counts = {}
    for key, window in zip(keys, windows):
        key = f"rate:{key}"
        # add() is a SET NX with the expiry, so the counter disappears after its window.
        cache.add(key, 0, timeout=window * 2)
        try:
            counts[key.removeprefix("rate:")] = cache.incr(key)
        except ValueError:  # expired between the two
            cache.add(key, 1, timeout=window * 2)
            counts[key.removeprefix("rate:")] = 1
    return counts


def _count_in_database(keys: list[str], windows: list[int]) -> dict[str, int]:
    """One statement: a multi-row upsert that returns the new counts (SQLite ≥ 3.35 and
    PostgreSQL)."""
    now = timezone.now()
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    rows, params = [], []
    for key, window in sorted(zip(keys, windows)):  # one order for every writer: no deadlock
        rows.append("(%s, 1, %s)")
        params += [key, now + dt.timedelta(seconds=window * 2)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, count, expires_at) VALUES {', '.join(rows)} "
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + 1 RETURNING key, count",
            params,
        )
        counts = dict(cursor.fetchall())
    if random.random() < 0.001:
        RateCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return counts
