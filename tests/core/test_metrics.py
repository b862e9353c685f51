"""/metrics: who may read it, and what the counters count (in process; the multiprocess
sum across gunicorn workers and /readyz on a real server: test_operations_server.py)."""

import re

import pytest
from django.test import Client

from madoguchi.ceremonies import services as ceremonies
from madoguchi.ceremonies.errors import CeremonyError
from madoguchi.municipalities.tenancy import tenant

TOKEN = "m" * 40


def value(text: str, sample: str) -> float:
    match = re.search("^" + re.escape(sample) + r" (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def scrape(client=None, **extra) -> tuple[int, str]:
    response = (client or Client()).get("/metrics", **extra)
    return response.status_code, response.content.decode()


@pytest.mark.django_db
def test_metrics_answer_loopback_or_the_token_only(settings):
    settings.METRICS_TOKEN = TOKEN
    assert scrape()[0] == 200  # the test client's address is 127.0.0.1
    assert scrape(REMOTE_ADDR="::1")[0] == 200
    remote = dict(REMOTE_ADDR="203.0.113.9")
    status, text = scrape(**remote)
    assert status == 403 and "MADOGUCHI_METRICS_TOKEN" in text
    assert scrape(HTTP_AUTHORIZATION="Bearer " + "x" * 40, **remote)[0] == 403
    assert scrape(HTTP_AUTHORIZATION=TOKEN, **remote)[0] == 403  # not a bearer token
    status, text = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **remote)
    assert status == 200 and "# TYPE madoguchi_request_duration_seconds histogram" in text
    # Without a token configured, nobody remote; loopback can be switched off.
    settings.METRICS_TOKEN = ""
    assert scrape(HTTP_AUTHORIZATION="Bearer ", **remote)[0] == 403
    settings.METRICS_ALLOW_LOOPBACK = False
    assert scrape()[0] == 403


@pytest.mark.django_db
def test_request_latency_is_per_view_name(client):
    sample = 'madoguchi_request_duration_seconds_count{method="GET",status="2xx",view="livez"}'
    before = value(scrape()[1], sample)
    for _ in range(3):
        assert client.get("/livez").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    text = scrape()[1]
    assert value(text, sample) == before + 3
    assert value(text, 'madoguchi_request_duration_seconds_count{method="GET",status="4xx",view="unmatched"}') >= 1


@pytest.mark.django_db
def test_ceremonies_are_counted_per_purpose_and_outcome(muni_a):
    opened = 'madoguchi_ceremonies_opened_total{purpose="login"}'
    failed = 'madoguchi_ceremonies_finished_total{outcome="wrong_audience",purpose="login"}'
    text = scrape()[1]
    before_opened, before_failed = value(text, opened), value(text, failed)
    with tenant(muni_a):
        ceremony, _ = ceremonies.open_ceremony("login", audience=f"{muni_a.code}:portal", requester="窓口市",
                                               reason="ログイン")
        with pytest.raises(CeremonyError):
            ceremonies.complete(ceremony.public_id, {"audience": "another:portal"})
    text = scrape()[1]
    assert value(text, opened) == before_opened + 1
    assert value(text, failed) == before_failed + 1


@pytest.mark.django_db
def test_queue_depth_and_failed_deliveries_come_from_the_database(muni_a):
    from madoguchi.audit.tasks import verify_audit_chains
    from madoguchi.core.metrics import _Sources
    from madoguchi.identity.models import Person
    from madoguchi.notices.models import Delivery

    _Sources.forget()  # the sources' answers are kept a few seconds
    depth = 'madoguchi_task_queue_depth{queue="default"}'
    failed = 'madoguchi_notice_deliveries{channel="email",state="failed"}'
    text = scrape()[1]
    assert value(text, depth) == 0 and value(text, failed) == 0
    verify_audit_chains.enqueue()
    verify_audit_chains.enqueue()
    import datetime as dt

    from django.utils import timezone

    person = Person.objects.create(verified_name="窓口 太郎", verified_birth_date=dt.date(1980, 1, 1),
                                   verified_sex="1", verified_address="窓口市", verified_at=timezone.now())
    with tenant(muni_a):
        for status in ("failed", "failed", "sent", "queued"):
            Delivery.objects.create(person=person, channel="email", category="applications", kind="submitted",
                                    link="/", status=status)
    assert value(scrape()[1], depth) == 0  # kept from the last scrape
    _Sources.forget()
    text = scrape()[1]
    assert value(text, depth) == 2
    assert value(text, failed) == 2
    assert value(text, 'madoguchi_notice_deliveries{channel="email",state="queued"}') == 1
    assert value(text, 'madoguchi_notice_deliveries{channel="push",state="failed"}') == 0


REDIS_URL = f"redis://127.0.0.1:6379/{__import__('os').environ.get('MADOGUCHI_TEST_REDIS_DB', '1')}"


@pytest.mark.django_db
def test_readyz_checks_the_shared_cache_and_redis_when_configured(client, settings):
    # Changing CACHES resets Django's cache handler (django.test.signals).
    settings.CACHE_URL = settings.REDIS_URL = REDIS_URL
    settings.CACHES = {"default": {"BACKEND": "madoguchi.core.cache.RedisCache", "LOCATION": REDIS_URL}}
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"draining": False, "database": "up", "migrations": "applied",
                                         "cache": "up", "redis": "up"}
    # Nothing listens on port 1.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == "redis unavailable (ConnectionError)"
    dead = "redis://127.0.0.1:1/0"
    settings.CACHE_URL, settings.REDIS_URL = dead, ""
    settings.CACHES = {"default": {"BACKEND": "madoguchi.core.cache.RedisCache", "LOCATION": dead}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == "cache unavailable (ConnectionError)"
    assert client.get("/livez").status_code == 200
