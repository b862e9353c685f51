"""The cost of one code-for-token exchange, pinned: the SQL statements of the token request
(private_key_jwt client authentication, the code taken once, the tokens stored, the audit
event). The bound is what the code reaches today (docs/operations.md, "Sizing"); a change
that adds statements to it fails here and has to say why by raising it.
MADOGUCHI_SHOW_QUERIES=1 prints them."""

import os
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import verify_chain

from .flow import follow

TOKEN_BUDGET = 15


@pytest.mark.django_db
def test_a_token_exchange_stays_within_its_query_budget(make_rp, browser, pki, taro_record, muni_a,
                                                       no_random_purges):
    rp = make_rp(method="private_key_jwt")
    callback, _, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    rp.finish(callback)  # consent given; per-process caches (keys, the client's JWKS) warm
    callback, consent, _ = follow(browser, rp.authorization_url("openid name"), pki.taro)
    assert consent is None  # remembered: straight back with a code
    query = dict(parse_qsl(urlsplit(callback).query))
    verifier, _nonce = rp.pending.pop(query["state"])
    rp.session.state = query["state"]
    with CaptureQueriesContext(connection) as queries:
        token = rp.session.fetch_token(rp.metadata["token_endpoint"], authorization_response=callback,
                                       code_verifier=verifier)
    assert "id_token" in token and "access_token" in token
    if os.environ.get("MADOGUCHI_SHOW_QUERIES"):
        for i, q in enumerate(queries.captured_queries):
            print(i, q["sql"][:240])
    assert len(queries) <= TOKEN_BUDGET, f"{len(queries)} statements (budget {TOKEN_BUDGET})"
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="oidc.token_issued").count() == 2
    assert verify_chain(muni_a).ok
