"""Fixed-window rate limits counted in the database, so every server process and machine
shares them (the embedded install has no shared cache). One UPDATE per hit."""

import datetime as dt
import hashlib
import random
import time

from django.db import connection
from django.utils import timezone

from .models import RateCounter


def client_address(request) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def allow(scope: str, subject: str, limit: int, window_seconds: int) -> bool:
    """Counts one hit of `subject` in `scope`; False once `limit` hits fall in this window.

    One statement: an upsert that returns the new count (SQLite ≥ 3.35 and PostgreSQL).
    """
    window = int(time.time() // window_seconds)
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]  # addresses are not stored plain
    key = f"{scope}:{digest}:{window}"
    expires = timezone.now() + dt.timedelta(seconds=window_seconds * 2)
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, count, expires_at) VALUES (%s, 1, %s) "
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [key, expires],
        )
        count = cursor.fetchone()[0]
    if random.random() < 0.001:
        RateCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return count <= limit
