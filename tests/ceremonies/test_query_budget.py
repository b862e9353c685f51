"""The cost of one card sign-in, pinned: the SQL statements of each of its requests — the
browser opens the ceremony, the card client fetches it and answers, the browser finishes
into a session — and of the whole. The bounds are what the code reaches today
(docs/operations.md, "Sizing"): a change that adds statements to the hottest resident path
fails here and has to say why by raising them. MADOGUCHI_SHOW_QUERIES=1 prints them."""

import json
import os

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import verify_chain

from .test_flows import sign_in

# Per request of a `login` sign-in (a linked card, a browser that has the sign-in page),
# counted as the test sees them (inside the test's transaction: an atomic block is a
# SAVEPOINT/RELEASE pair, a BEGIN/COMMIT on a server). Without a shared cache the sessions and
# the rate counters are in the database; with Redis (MADOGUCHI_CACHE_URL) they are not.
# `complete` reads whether the card path is enabled (ceremonies/cardpaths: one statement);
# database sessions skip the new key's lookup and delete the old one in one statement
# (core/sessions.py).
SIGNIN_BUDGET = {
    "database": {"open": 11, "fetch": 3, "complete": 13, "finish": 17},
    "redis": {"open": 7, "fetch": 2, "complete": 12, "finish": 9},
}
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('MADOGUCHI_TEST_REDIS_DB', '1')}"


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    """Sessions and rate counters in the database (the embedded default) or in Redis."""
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        settings.CACHE_URL = REDIS_URL
        settings.CACHES = {"default": {"BACKEND": "madoguchi.core.cache.RedisCache",
                                       "LOCATION": REDIS_URL}}
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
        yield "redis"
        client.flushdb()
    else:
        yield "database"


def captured(label: str, call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    if os.environ.get("MADOGUCHI_SHOW_QUERIES"):
        print(f"--- {label}: {len(queries)}")
        for i, q in enumerate(queries.captured_queries):
            print(i, q["sql"][:240])
    return response, len(queries)


@pytest.mark.django_db
def test_a_card_sign_in_stays_within_its_query_budget(store, client, muni_a, pki, taro_record, no_random_purges):
    code = muni_a.code
    sign_in(client, code, "identify", pki.taro)  # links the card (and warms per-process caches)
    sign_in(Client(), code, "login", pki.taro)
    browser, reader = Client(), Client()
    assert browser.get(f"/{code}/login/").status_code == 200

    counts = {}
    opened, counts["open"] = captured("open", lambda: browser.post(f"/{code}/ceremony/start/", {"purpose": "login"}))
    assert opened.status_code == 302
    ceremony_id = opened["Location"].rstrip("/").rsplit("/", 1)[1]
    fetched, counts["fetch"] = captured("fetch", lambda: reader.get(f"/{code}/api/ceremonies/{ceremony_id}"))
    assert fetched.status_code == 200
    body = json.dumps(pki.taro.answer(fetched.json()))
    completed, counts["complete"] = captured("complete", lambda: reader.post(
        f"/{code}/api/ceremonies/{ceremony_id}/complete", body, content_type="application/json"))
    assert completed.status_code == 200, completed.content
    finished, counts["finish"] = captured("finish", lambda: browser.get(f"/{code}/ceremony/{ceremony_id}/finish/"))
    assert finished.status_code == 302 and finished["Location"] == f"/{code}/"
    if os.environ.get("MADOGUCHI_SHOW_QUERIES"):
        print(store, counts, sum(counts.values()))
    budget = SIGNIN_BUDGET[store]
    over = {step: n for step, n in counts.items() if n > budget[step]}
    assert not over, f"over budget: {over} (budget {budget})"
    # Nothing was left out to get there: signed in, audited, and the chain verifies.
    assert "窓口　太郎" in browser.get(f"/{code}/account/").content.decode()
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="resident.signed_in").count() == 3
    assert verify_chain(muni_a).ok
