"""Fixed-window rate limits counted in the database, so every server process and machine
shares them (the embedded install has no shared cache). One UPDATE per hit."""

import datetime as dt
import hashlib
import random
import time

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import RateCounter


def client_address(request) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def allow(scope: str, subject: str, limit: int, window_seconds: int) -> bool:
    """Counts one hit of `subject` in `scope`; False once `limit` hits fall in this window."""
    window = int(time.time() // window_seconds)
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]  # addresses are not stored plain
    key = f"{scope}:{digest}:{window}"
    with transaction.atomic():
        updated = RateCounter.objects.filter(key=key).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(
                        key=key, count=1,
                        expires_at=timezone.now() + dt.timedelta(seconds=window_seconds * 2))
            except IntegrityError:
                RateCounter.objects.filter(key=key).update(count=F("count") + 1)
        count = RateCounter.objects.filter(key=key).values_list("count", flat=True).first() or 0
    if random.random() < 0.01:
        RateCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return count <= limit
